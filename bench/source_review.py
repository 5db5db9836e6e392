"""The source-build review's cost, measured in one run: `devenv plan` with an empty review
cache (uv asks the index), with a warm one, and pip's `--dry-run --report` alternative for the
same target (which needs `--only-binary=:all:` for another interpreter and so stops at the
first package without a wheel). Needs the package index.

    python bench/source_review.py [REQUIREMENTS_FILE]   # default: an issue-17-like backend
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLAN = '[environment]\nbase = "debian:trixie"\n[postgres]\nversion = 17\n'
# A FastAPI + SQLModel + asyncpg + pgvector backend with last year's `~=` pins.
REQUIREMENTS = (
    "fastapi~=0.110.0\nsqlmodel~=0.0.16\nasyncpg~=0.29.0\npgvector~=0.2.5\n"
    "uvicorn[standard]~=0.29.0\npsycopg2~=2.9.9\n"
)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    return time.monotonic() - started, result


def main() -> None:
    requirements = Path(sys.argv[1]).read_text() if len(sys.argv) > 1 else REQUIREMENTS
    with tempfile.TemporaryDirectory(prefix="devenv-bench-") as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        (root / "devenv.toml").write_text(PLAN)
        (root / "requirements.txt").write_text(requirements)
        env = {**os.environ, "DEVENV_CACHE_DIR": str(Path(tmp) / "cache")}
        plan = [sys.executable, "-m", "devenv", "-C", str(root), "plan", "--mode", "container"]
        cold, result = timed(plan, env)
        warm, again = timed(plan, env)
        assert result.returncode == 0 and again.stdout == result.stdout, result.stderr
        pip = [
            sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-",
            "--ignore-installed", "--target", str(Path(tmp) / "t"), "--python-version", "3.13",
            "--platform", "manylinux_2_40_x86_64", "--only-binary=:all:",
            "-r", str(root / "requirements.txt"),
        ]  # fmt: skip
        pip_s, pip_result = timed(pip, env)
    notes = [line.strip() for line in result.stdout.splitlines() if "note:" in line]
    print("\n".join(notes) or "no source builds")
    print(f"plan, review cache empty (uv resolves): {cold:.2f}s")
    print(f"plan, review cache warm:                {warm:.2f}s  ({cold / warm:.1f}x faster)")
    stopped = "stopped at the first sdist" if pip_result.returncode else "resolved"
    print(f"pip --dry-run --report --only-binary:   {pip_s:.2f}s  ({stopped})")


if __name__ == "__main__":
    main()
