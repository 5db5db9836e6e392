"""Bounded waits: an external command that never answers ends in one line, not a silent hang."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devenv.lock import resolve as locking
from devenv.plan.model import load_plan
from tests.conftest import MakeProject


def test_uv_that_never_answers_is_stopped_with_one_line(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "uv"
    fake.write_text("#!/bin/sh\nexec sleep 60\n")  # an index that never answers
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(locking, "UV_TIMEOUT", 1.0)
    plan = load_plan(make_project())
    with pytest.raises(locking.LockError, match="did not finish within 1s") as caught:
        locking.resolve_python(plan, None, upgrade=False)
    assert "\n" not in str(caught.value)
