"""Stopping a child process we started: politely first, then for sure."""

from __future__ import annotations

import subprocess
from typing import Any


def stop_process(proc: subprocess.Popen[Any], grace: float = 15.0) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL; always reaps it."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
