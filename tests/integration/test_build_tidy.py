"""On a real engine: a wheel that links system libraries builds and imports because the review
added the release's packages for it (opencv-python's cv2: libGL, GLib, libSM, libXext, under
Debian 13's t64 names), the post-install check passing over it; and builds leave no untagged
images, successful or not, with a failed build's work kept for the retry.

The check's failing path (a library nothing provides) runs for real in
tests/unit/test_runtime_libs.py on a module compiled there: a wheel that links a library no
table knows cannot reach an image build without a registry of our own.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devenv.container.engine import Engine
from tests.integration.conftest import RunContainer, devenv_cli

NAME = "tidy-native"
PLAN = """\
[environment]
name = "{name}"
base = "debian:trixie"
[postgres]
version = 17
host_port = 56360
[python]
smoke = [{smoke}]
"""
REQUIREMENTS = "opencv-python==4.10.0.84\n"


def dangling(name: str) -> list[str]:
    label = f"label=dev.devenv.project={name}"
    out = subprocess.run(
        ["docker", "images", "-q", "--filter", "dangling=true", "--filter", label],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


@pytest.fixture(scope="module")
def project(trixie_base: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tidy") / NAME
    root.mkdir()
    (root / "requirements.txt").write_text(REQUIREMENTS)
    return root


def build(root: Path, smoke: str) -> tuple[int, str, dict[str, Any]]:
    (root / "devenv.toml").write_text(PLAN.format(name=NAME, smoke=smoke))
    done = devenv_cli("-C", str(root), "build", "--json", timeout=1800)
    data: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, done.stderr, data


def test_builds_keep_a_failed_builds_work_and_leave_nothing_untagged(
    project: Path, engine: Engine, run_container: RunContainer
) -> None:
    (project / "devenv.toml").write_text(PLAN.format(name=NAME, smoke='"cv2"'))
    plan = devenv_cli("-C", str(project), "plan")
    assert "opencv-python 4.10.0.84 cv2 links libGL" in plan.stdout + plan.stderr

    # A smoke import the project cannot satisfy fails the dev image after its slow steps.
    code, err, failed = build(project, '"cv2", "no_such_module"')
    assert code == 1, err[-3000:]
    partial = f"devenv/{NAME}-dev:partial"
    assert f"kept the failed build's last finished step as {partial}" in err
    assert engine.inspect_image(partial) is not None
    assert dangling(NAME) == []

    # Fixed: the build resumes from the failed one's steps, succeeds and drops the partial.
    code, err, data = build(project, '"cv2"')
    assert code == 0, err[-3000:]
    assert engine.inspect_image(partial) is None
    assert dangling(NAME) == []

    # Every step the failed build finished (the install, the run-time library check that cv2
    # passed) is reused; only the smoke imports run again. (Unless the review's answer changed
    # in between — an index that timed out once gives the offline table's apt list — which
    # would change the steps themselves: compared, not assumed.)
    def runs(build: dict[str, Any]) -> list[dict[str, Any]]:
        return [s for s in build["steps"] if s["target"] == "dev" and "RUN" in s["instruction"]]

    before = {s["instruction"] for s in runs(failed)}
    again = [s for s in runs(data) if s["instruction"] in before]
    assert again and all(s["cached"] for s in again), [
        (s["number"], s["cached"], s["instruction"][:60]) for s in runs(data)
    ]
    assert any("ldd" in s["instruction"] and s["cached"] for s in runs(data))

    code, out = run_container(f"devenv/{NAME}-dev:latest", ["python", "-c", "import cv2"])
    assert code == 0, out

    # A rebuild that replaces the dev image leaves the old one nowhere.
    (project / "requirements.txt").write_text(REQUIREMENTS + "six==1.16.0\n")
    code, err, _ = build(project, '"cv2", "six"')
    assert code == 0, err[-3000:]
    assert dangling(NAME) == []
    for ref in (f"devenv/{NAME}-dev:latest", f"devenv/{NAME}-db:latest"):
        engine.remove_image(ref)
