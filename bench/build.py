"""Build times of devenv's generated Dockerfile against a naive one, measured in one run.

The naive Dockerfile follows the seed's steps literally: one stage, `COPY . .` before
`pip install -r requirements.txt`. Prints cold, no-op, source-edit and requirements-edit
times for both, and their ratios. Needs a running engine and the plan's base image.

    python bench/build.py [PROJECT_DIR]     # default: a Debian 13 + PostgreSQL 17 sample
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from devenv.build import Progress, TargetResult, proxy_build_args, read_stream
from devenv.engine import Engine
from devenv.generate import generate_files
from devenv.plan import load_plan
from devenv.steps import Mode, compile_steps

SAMPLE_PLAN = """\
[environment]
name = "bench"
base = "debian:trixie"
[postgres]
version = 17
[python]
smoke = ["psycopg", "pgvector.psycopg", "sqlalchemy", "fastapi"]
"""
SAMPLE_REQUIREMENTS = (
    "fastapi==0.121.0\nSQLAlchemy==2.0.44\npsycopg[binary]==3.3.9\npgvector==0.5.1\n"
)


def naive_dockerfile(root: Path) -> str:
    plan = load_plan(root)
    packages = [
        p for s in compile_steps(plan, Mode.HOST) if s.kind.value == "apt" for p in s.packages
    ]
    return (
        f"FROM {plan.environment.base}\n"
        "RUN apt-get update && apt-get install -y " + " ".join(dict.fromkeys(packages)) + "\n"
        "COPY docker/certs/ /usr/local/share/ca-certificates/devenv/\n"
        "RUN update-ca-certificates\n"
        "WORKDIR /app\n"
        "COPY . .\n"
        "RUN python3 -m venv /venv && /venv/bin/pip install -r requirements.txt\n"
        "RUN /venv/bin/pip check\n"
    )


def timed(
    engine: Engine,
    root: Path,
    dockerfile: str,
    targets: tuple[str | None, ...],
    nocache: bool = False,
) -> float:
    started = time.monotonic()
    for target in targets:
        result = TargetResult(target=str(target), ref=f"devenv-bench/{target or 'naive'}:latest")
        stream = engine.build(
            path=root,
            dockerfile=dockerfile,
            target=target,
            tag=result.ref,
            labels={},
            buildargs=proxy_build_args({}),
            nocache=nocache,
        )
        read_stream(str(target), stream, Progress(), result)
    return time.monotonic() - started


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="devenv-bench-"))
    try:
        if len(sys.argv) > 1:
            shutil.copytree(sys.argv[1], work / "p", ignore=shutil.ignore_patterns(".venv", ".git"))
        else:
            (work / "p").mkdir()
            (work / "p/devenv.toml").write_text(SAMPLE_PLAN)
            (work / "p/requirements.txt").write_text(SAMPLE_REQUIREMENTS)
        root = work / "p"
        (root / "app.py").write_text("print('app')\n")
        generate_files(load_plan(root), check=False, force=False)
        # The naive build gets its own copy of the project without devenv's .dockerignore,
        # as a project with a hand-written Dockerfile would be; edits go to both copies.
        naive_root = work / "naive"
        shutil.copytree(root, naive_root)
        (naive_root / ".dockerignore").unlink()
        (naive_root / "Dockerfile").write_text(naive_dockerfile(root))

        def edit(name: str) -> None:
            for folder in (root, naive_root):
                with (folder / name).open("a") as f:
                    f.write(f"# {uuid.uuid4()}\n")

        with Engine.connect() as engine:
            rows = []
            for label, change in (
                ("cold (--no-cache)", None),
                ("no-op rebuild", lambda: None),
                ("source edit", lambda: edit("app.py")),
                ("requirements edit", lambda: edit("requirements.txt")),
            ):
                if change is not None:
                    change()
                cold = change is None
                t_ours = timed(engine, root, "docker/Dockerfile", ("db", "dev"), nocache=cold)
                t_naive = timed(engine, naive_root, "Dockerfile", (None,), nocache=cold)
                rows.append((label, t_ours, t_naive))
        print(f"{'build':20} {'devenv':>9} {'naive':>9} {'naive/devenv':>13}")
        for label, t_ours, t_naive in rows:
            print(f"{label:20} {t_ours:8.1f}s {t_naive:8.1f}s {t_naive / t_ours:12.1f}x")
        print("devenv builds two images (dev + db); the naive one builds one image with both.")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
