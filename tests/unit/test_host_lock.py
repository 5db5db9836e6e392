"""One host-install at a time: the lock, tried with a real second process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from devenv.errors import HostError
from devenv.support.exclusive_run import LOCK_FILE, host_lock

SOURCE = Path(__file__).resolve().parents[2]
HOLD = """\
import sys, time
from pathlib import Path
from devenv.support.exclusive_run import host_lock
with host_lock(Path(sys.argv[1]), dry_run=False):
    print("locked", flush=True)
    time.sleep(60)
"""


def hold(project: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(project)],
        cwd=SOURCE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "locked\n"
    return process


def test_a_second_run_is_refused_at_once_and_names_the_holder(tmp_path: Path) -> None:
    holder = hold(tmp_path)
    try:
        for dry_run in (False, True):
            with pytest.raises(HostError) as caught, host_lock(tmp_path, dry_run=dry_run):
                pass
            assert str(caught.value) == (
                f"devenv host-install is already running for {tmp_path} (pid {holder.pid}) "
                "(wait for it to finish, then run again)"
            )
    finally:
        holder.kill()
        holder.wait()
    with host_lock(tmp_path, dry_run=False):  # the kernel released it with the process
        pass


def test_a_dry_run_creates_no_lock_file(tmp_path: Path) -> None:
    with host_lock(tmp_path, dry_run=True):
        pass
    assert not (tmp_path / LOCK_FILE).exists() and not (tmp_path / ".devenv").exists()


def test_the_lock_file_stays_and_is_reused(tmp_path: Path) -> None:
    with host_lock(tmp_path, dry_run=False):
        assert (tmp_path / LOCK_FILE).read_text().strip().isdigit()
    # flock locks belong to the open file: a dry run in this same process is refused too.
    held = host_lock(tmp_path, dry_run=False)
    with held, pytest.raises(HostError, match="already running"), host_lock(tmp_path, dry_run=True):
        pass


def test_an_unwritable_project_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / ".devenv").write_text("a file where the state folder should be")
    with (
        pytest.raises(HostError, match="can't create the lock file"),
        host_lock(tmp_path, dry_run=False),
    ):
        pass
