"""verify without an engine: lazy imports, the testcontainers environment, leftover rules, and
the one-line error when nothing answers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from devenv.errors import VerifyError
from devenv.verify.leftovers import (
    OWNER_LABEL,
    RUN_LABEL,
    STALE_SECONDS,
    is_leftover,
    new_run_id,
)
from devenv.verify.lifecycle import default_testcontainers_env, load_testcontainers


def test_cli_and_verify_modules_do_not_import_testcontainers_or_docker() -> None:
    code = (
        "import sys, devenv.cli, devenv.commands.verify\n"
        "import devenv.verify.lifecycle, devenv.verify.report\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('testcontainers', 'docker')]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_testcontainers_environment_defaults_never_override_the_user() -> None:
    env: dict[str, str] = {"TESTCONTAINERS_CONNECTION_MODE": "bridge_ip"}
    added = default_testcontainers_env(env)
    assert added == {"TESTCONTAINERS_RYUK_DISABLED": "true"}
    assert env["TESTCONTAINERS_CONNECTION_MODE"] == "bridge_ip"
    assert default_testcontainers_env(env) == {}


def test_a_bad_connection_mode_is_a_verify_error() -> None:
    env = {"TESTCONTAINERS_CONNECTION_MODE": "sideways", "TESTCONTAINERS_RYUK_DISABLED": "true"}
    with pytest.raises(VerifyError, match="sideways"):
        load_testcontainers(env)


def test_leftover_rules() -> None:
    now = 1_800_000_000.0
    mine = {RUN_LABEL: new_run_id(now), OWNER_LABEL: "box:123"}

    def leftover(
        labels: dict[str, str],
        host: str = "box",
        at: float = now,
        alive: Callable[[int], bool] = lambda pid: False,
        me: int = 1,
    ) -> bool:
        return is_leftover(labels, host=host, now=at, alive=alive, me=me)

    assert not leftover(mine, alive=lambda pid: True)  # a verify running next to this one
    assert leftover(mine, alive=lambda pid: False)  # killed
    assert leftover(mine, alive=lambda pid: True, me=123)  # killed; its pid reused by us
    assert not leftover(mine, host="other", at=now + 60)  # another host's, maybe running
    assert leftover(mine, host="other", at=now + STALE_SECONDS + 1)
    assert leftover(mine, alive=lambda pid: True, at=now + STALE_SECONDS + 1)
    assert leftover({RUN_LABEL: "garbage"})
    assert new_run_id(now).startswith("1800000000-")
