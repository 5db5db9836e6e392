"""Wall time of `devenv verify` on built images, as a user runs it (a fresh process each time).

Prints every run's wall time, the slowest checks of each run, and the median against the
target (5 s on our 2-core machines). Never asserted anywhere: times on shared machines are
noisy, so read the ratio and the per-check times together.

    python bench/verify.py [PROJECT_DIR] [--runs N]

PROJECT_DIR must hold a devenv.toml whose images are built (`devenv build`). Without it, a
Debian 13 + PostgreSQL 17 sample is written to a temporary folder and built first (the build
is not timed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 5.0
SAMPLE_PLAN = """\
[environment]
name = "bench-verify"
base = "debian:trixie"
[postgres]
version = 17
[python]
smoke = ["psycopg", "pgvector.psycopg", "sqlalchemy"]
"""
SAMPLE_REQUIREMENTS = "psycopg[binary]==3.3.9\npgvector==0.5.1\nSQLAlchemy==2.0.44\n"


def devenv(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "devenv", "-C", str(root), *args]
    print("+ " + " ".join(argv[2:]), file=sys.stderr, flush=True)
    return subprocess.run(argv, capture_output=True, text=True, check=False, env=dict(os.environ))


def sample_project(work: Path) -> Path:
    root = work / "bench-verify"
    root.mkdir()
    (root / "devenv.toml").write_text(SAMPLE_PLAN)
    (root / "requirements.txt").write_text(SAMPLE_REQUIREMENTS)
    for step in (("generate",), ("build", "--quiet")):
        result = devenv(root, *step)
        if result.returncode != 0:
            sys.exit(f"devenv {step[0]} failed:\n{result.stderr[-3000:]}")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", nargs="?", type=Path, help="a project with built images")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="devenv-bench-verify-"))
    try:
        root = args.project.resolve() if args.project else sample_project(work)
        walls = []
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            result = devenv(root, "verify", "--json")  # the report, on stdout
            wall = time.monotonic() - started
            if result.returncode != 0:
                sys.exit(
                    f"devenv verify failed (exit {result.returncode}):\n"
                    f"{result.stdout}\n{result.stderr}"
                )
            data = json.loads(result.stdout)
            slowest = sorted(data["checks"], key=lambda c: -c["seconds"])[:4]
            phases = ", ".join(f"{c['name']} {c['seconds']:.2f}s" for c in slowest)
            print(f"run {run}: {wall:5.2f}s wall ({data['seconds']:.2f}s inside); {phases}")
            walls.append(wall)
        median = statistics.median(walls)
        print(
            f"devenv verify: median {median:.2f}s, best {min(walls):.2f}s over {len(walls)} runs;"
            f" target {TARGET_SECONDS:.0f}s -> median/target {median / TARGET_SECONDS:.2f}x"
        )
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"machine: {os.cpu_count()} CPUs, 1-minute load average {load:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
