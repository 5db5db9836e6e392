"""Build times of devenv against a naive Dockerfile and a hand-tuned floor, measured in one run.

- devenv: `devenv build` of the default plan (Ubuntu 24.04 + PostgreSQL 16 + pgvector), both
  images, through the same code path the command uses.
- naive: the seed's steps literally: one stage, `COPY . .` before `pip install -r`.
- floor: one image, one RUN: apt `--no-install-recommends` of every package, a venv, uv, the
  requirements, every cache removed. Nothing but the work itself.

Prints cold (--no-cache), no-op, source edit and requirements edit (one package added) for
each, the ratios, and the images' sizes with the bytes devenv's two images share. Then, on the
images just built, what a developer waits for every day, against its target: `devenv verify`
(median of five), a warm `devenv up` (images present, services down, until every check
passed) and a second `devenv host-install` with nothing to do (in a bare host container of the
plan's release, after a first one). Needs a running engine and the base image (`devenv
base`). Timings are noisy here: compare ratios of one run, never figures of two.

Where the engine has BuildKit (Docker >= 23 and the docker CLI's buildx), each build runs with
both builders side by side: devenv's classic path and its BuildKit one (both images in one bake,
apt and uv/pip downloads on cache mounts), naive and floor with `docker build` and `docker buildx
build`; each ratio compares one builder's builds. BuildKit's --no-cache also empties the cache
mounts (by design since BuildKit 0.7): its cold build downloads everything, as the classic one.

    python bench/build.py [--installer uv|pip ...] [--builds-only] [--scaling]

--scaling adds cold and requirements-edit times for 10, 40 and 120 requirements, for pip and uv.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from devenv.container import buildkit
from devenv.container.build import (
    Progress,
    TargetResult,
    build_images,
    proxy_build_args,
    read_stream,
)
from devenv.container.engine import Engine
from devenv.files.generate import generate_files
from devenv.plan.model import load_plan
from devenv.steps.model import Kind, Mode
from devenv.steps.recipe import Recipe, compile_plan

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the bare host of tests/integration, for the host re-run

# The targets for what a developer waits for every day (seconds).
TARGETS = {"verify": 5.0, "up": 12.0, "host": 1.0}

# The nine pins (fastapi, uvicorn, SQLAlchemy, psycopg[binary], pgvector,
# pydantic-settings, httpx, alembic, numpy), and the one a requirements edit adds.
REQUIREMENTS = """\
fastapi==0.165.0
uvicorn==0.54.0
SQLAlchemy==2.1.9
psycopg[binary]==3.3.9
pgvector==0.5.1
pydantic-settings==2.16.3
httpx==0.28.1
alembic==1.20.1
numpy==2.4.6
"""
ADDED = "python-dotenv==1.2.4\n"
# Bigger sets for --scaling: well-known pure-Python or wheel-only packages, unpinned (the
# newest each resolves to), so that every size installs without a compiler.
MORE_TEXT = (
    "attrs click jinja2 markupsafe requests urllib3 certifi charset-normalizer idna six "
    "python-dateutil pytz tzdata packaging pyyaml rich pygments markdown-it-py mdurl typer "
    "tenacity orjson ujson msgpack cachetools filelock platformdirs tomli tomlkit wrapt "
    "decorator toolz more-itertools sniffio h11 anyio starlette pydantic annotated-types "
    "structlog loguru itsdangerous blinker werkzeug flask marshmallow cerberus jsonschema "
    "referencing rpds-py jsonpointer python-multipart email-validator dnspython greenlet "
    "mako alembic redis celery kombu vine amqp billiard prompt-toolkit wcwidth colorama "
    "tabulate humanize pendulum arrow babel lxml pillow cryptography cffi pycparser bcrypt "
    "passlib pyjwt oauthlib requests-oauthlib httpcore httpx websockets watchfiles uvloop "
    "httptools psutil sentry-sdk prometheus-client opentelemetry-api protobuf grpcio "
    "googleapis-common-protos boto3 botocore s3transfer jmespath pyasn1 rsa google-auth "
    "pandas numpy scipy pyarrow polars sqlparse sqlglot psycopg-pool asyncpg aiohttp "
    "multidict yarl frozenlist aiosignal propcache"
)
MORE = MORE_TEXT.split()


def plan_text(installer: str, name: str = "bench") -> str:
    return f'[environment]\nname = "{name}"\n[python]\ninstaller = "{installer}"\n'


def apt_packages(recipe: Recipe) -> list[str]:
    """Every apt package the host install of the plan names, in order."""
    return [p for s in recipe.steps(Mode.HOST) if s.kind is Kind.APT for p in s.packages]


def naive_dockerfile(root: Path) -> str:
    plan = load_plan(root)
    packages = apt_packages(compile_plan(plan))
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


def floor_dockerfile(root: Path) -> str:
    plan = load_plan(root)
    packages = apt_packages(compile_plan(plan))
    return (
        f"FROM {plan.environment.base}\n"
        "COPY docker/certs/ /usr/local/share/ca-certificates/devenv/\n"
        "COPY requirements.txt /tmp/requirements.txt\n"
        "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
        "--no-install-recommends " + " ".join(dict.fromkeys(["ca-certificates", *packages])) + " "
        "&& update-ca-certificates "
        "&& python3 -m venv /venv && /venv/bin/pip install --no-cache-dir uv "
        "&& UV_NATIVE_TLS=1 UV_NO_CACHE=1 /venv/bin/uv pip install --python /venv/bin/python "
        "-r /tmp/requirements.txt "
        "&& rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb\n"
    )


def build_one(engine: Engine, root: Path, dockerfile: str, tag: str, nocache: bool) -> float:
    started = time.monotonic()
    result = TargetResult(target="image", ref=tag)
    stream = engine.build(
        path=root,
        dockerfile=dockerfile,
        target=None,
        tag=tag,
        labels={},
        buildargs=proxy_build_args({}),
        nocache=nocache,
    )
    read_stream("image", stream, Progress(), result)
    return time.monotonic() - started


def build_one_buildkit(root: Path, tag: str, nocache: bool) -> float:
    """`docker buildx build` of a hand-written Dockerfile, loaded into the engine."""
    argv = ["docker", "buildx", "build", "--load", "--progress", "plain", "-t", tag, "."]
    started = time.monotonic()
    done = subprocess.run(
        argv + (["--no-cache"] if nocache else []),
        cwd=root,
        env=buildkit.cli_env(os.environ),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"docker buildx build of {root} failed:\n{done.stderr[-3000:]}")
    return time.monotonic() - started


def build_devenv(
    engine: Engine, root: Path, nocache: bool, builder: buildkit.Builder | None = None
) -> float:
    started = time.monotonic()
    build_images(
        load_plan(root), engine, Progress(), no_cache=nocache, log=lambda _: None, builder=builder
    )
    return time.monotonic() - started


def size(engine: Engine, ref: str) -> int:
    info = engine.inspect_image(ref)
    return int(info["Size"]) if info else 0


def shared_bytes(engine: Engine, a: str, b: str) -> int:
    """Bytes of the layers both images stand on (the same history entries)."""
    first = {h["Id"]: int(h["Size"]) for h in engine.api.history(a) if h["Id"] != "<missing>"}
    return sum(int(h["Size"]) for h in engine.api.history(b) if h["Id"] in first)


def projects(
    work: Path, installer: str, requirements: str, name: str = "bench"
) -> tuple[Path, Path, Path]:
    root = work / "devenv"
    root.mkdir()
    (root / "devenv.toml").write_text(plan_text(installer, name))
    (root / "requirements.txt").write_text(requirements)
    (root / "app.py").write_text("print('app')\n")
    generate_files(load_plan(root), check=False, force=False)
    # The other two get their own copy without devenv's .dockerignore, as a project with a
    # hand-written Dockerfile would be; edits go to every copy.
    copies = []
    for name, render in (("naive", naive_dockerfile), ("floor", floor_dockerfile)):
        copy = work / name
        shutil.copytree(root, copy)
        (copy / ".dockerignore").unlink()
        (copy / "Dockerfile").write_text(render(root))
        copies.append(copy)
    return root, copies[0], copies[1]


def devenv_cli(root: Path, *args: str) -> float:
    """Wall time of one `devenv` run in a fresh process, as a user types it."""
    argv = [sys.executable, "-m", "devenv", "-C", str(root), *args]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"devenv {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def every_day(engine: Engine, root: Path) -> list[tuple[str, float, float]]:
    """(work, seconds, target) for verify, a warm up and a second host-install."""
    verify = statistics.median(devenv_cli(root, "verify", "--json") for _ in range(5))
    ups = []
    for _ in range(2):
        devenv_cli(root, "down")
        ups.append(devenv_cli(root, "up"))
    devenv_cli(root, "down", "--volumes")
    return [
        ("verify (median of 5)", verify, TARGETS["verify"]),
        ("up: images present, services down (best of 2)", min(ups), TARGETS["up"]),
        ("second host-install, nothing to do", host_rerun(engine, root), TARGETS["host"]),
    ]


def host_rerun(engine: Engine, root: Path) -> float:
    """A first `devenv host-install` in a bare host of the plan's release, then the second,
    timed (inside the host, so the engine's exec round trip is not counted)."""
    from tests.integration.conftest_host import build_bare_host, start_host, stop_host

    plan = load_plan(root)
    image = build_bare_host(engine, plan.environment.base, "devenv-bench/bare-host:latest")
    host = start_host(engine, image, user="dev", project="/srv/bench", docker_socket=False)
    try:
        host.put_project(root, "/srv/bench", "dev")
        code, out = host.devenv("host-install")
        if code != 0:
            sys.exit(f"the first host-install failed ({code}):\n{out[-3000:]}")
        timing = (
            "import subprocess, sys, time; s = time.monotonic(); r = subprocess.run("
            "['devenv', '-C', '/srv/bench', 'host-install'], stdout=subprocess.DEVNULL); "
            "print(time.monotonic() - s); sys.exit(r.returncode)"
        )
        code, out = host.run(["python3", "-c", timing])
        if code != 0:
            sys.exit(f"the second host-install failed ({code}):\n{out[-3000:]}")
        return float(out.strip().splitlines()[-1])
    finally:
        stop_host(host)


Row = tuple[str, float, float | None, float | None]  # work, devenv, naive, floor


def print_rows(rows: list[Row]) -> None:
    print("| work | devenv | naive | floor | devenv/naive | devenv/floor |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, t_ours, t_naive, t_floor in rows:
        naive = f"{t_naive:.1f} s | " if t_naive else "— | "
        floor = f"{t_floor:.1f} s | " if t_floor else "— | "
        by_naive = f"{t_ours / t_naive:.2f}x | " if t_naive else "— | "
        by_floor = f"{t_ours / t_floor:.2f}x |" if t_floor else "— |"
        print(f"| {label} | {t_ours:.1f} s | {naive}{floor}{by_naive}{by_floor}")


def compare(engine: Engine, installer: str, builds_only: bool = False) -> None:
    work = Path(tempfile.mkdtemp(prefix="devenv-bench-"))
    try:
        ours, naive, floor = projects(work, installer, REQUIREMENTS)
        both = buildkit.detect(engine, os.environ) is buildkit.Builder.BUILDKIT
        folders = [ours, naive, floor]
        if both:
            kit = work / "buildkit"
            kit.mkdir()
            kit_ours, kit_naive, kit_floor = projects(kit, installer, REQUIREMENTS, "bench-bk")
            folders += [kit_ours, kit_naive, kit_floor]

        def edit(name: str, text: str) -> Callable[[], None]:
            def run() -> None:
                for folder in folders:
                    with (folder / name).open("a") as f:
                        f.write(text)

            return run

        rows: list[Row] = []
        kit_rows: list[Row] = []
        for label, change in (
            ("cold (--no-cache)", None),
            ("no-op rebuild", lambda: None),
            ("source edit", edit("app.py", f"# {uuid.uuid4()}\n")),
            ("requirements edit (+1)", edit("requirements.txt", ADDED)),
        ):
            if change is not None:
                change()
            cold = change is None
            t_ours = build_devenv(engine, ours, cold, buildkit.Builder.CLASSIC)
            t_naive = build_one(engine, naive, "Dockerfile", "devenv-bench/naive:latest", cold)
            with_floor = label.startswith(("cold", "requirements"))
            t_floor = (
                build_one(engine, floor, "Dockerfile", "devenv-bench/floor:latest", cold)
                if with_floor
                else None
            )
            rows.append((label, t_ours, t_naive, t_floor))
            if not both:
                continue
            t_kit = build_devenv(engine, kit_ours, cold, buildkit.Builder.BUILDKIT)
            t_kit_naive = build_one_buildkit(kit_naive, "devenv-bench/naive-bk:latest", cold)
            t_kit_floor = (
                build_one_buildkit(kit_floor, "devenv-bench/floor-bk:latest", cold)
                if with_floor
                else None
            )
            kit_rows.append((label, t_kit, t_kit_naive, t_kit_floor))

        print(f"\n## devenv ({installer}) vs naive vs floor, default plan, 9 requirements")
        if both:
            print("classic builder (docker-py's build API) on this engine:")
        print_rows(rows)
        if both:
            print("\nBuildKit on the same engine (devenv: one bake with cache mounts; naive and")
            print("floor: `docker buildx build`):")
            print_rows(kit_rows)
        dev, db = "devenv/bench-dev:latest", "devenv/bench-db:latest"
        mb = 1e6
        print(
            f"\nsizes: dev {size(engine, dev) / mb:.0f} MB, db {size(engine, db) / mb:.0f} MB "
            f"(sharing {shared_bytes(engine, dev, db) / mb:.0f} MB); "
            f"naive {size(engine, 'devenv-bench/naive:latest') / mb:.0f} MB; "
            f"floor {size(engine, 'devenv-bench/floor:latest') / mb:.0f} MB"
        )
        if not builds_only:
            print(f"\n## every day ({installer}), on the images above")
            print("| work | devenv | target | devenv/target |")
            print("| --- | --- | --- | --- |")
            for label, seconds, target in every_day(engine, ours):
                print(f"| {label} | {seconds:.2f} s | {target:.1f} s | {seconds / target:.2f}x |")
        load = os.getloadavg()[0]
        print(f"\nmachine: {os.cpu_count()} CPUs, 1-minute load average {load:.2f} at the end")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def scaling(engine: Engine) -> None:
    print("\n## cost by size of the requirement set (devenv build, default plan)")
    print("| requirements | installer | cold | requirements edit (+1) |")
    print("| --- | --- | --- | --- |")
    for count in (10, 40, 120):
        for installer in ("pip", "uv"):
            work = Path(tempfile.mkdtemp(prefix="devenv-bench-"))
            try:
                root, _, _ = projects(work, installer, "\n".join(MORE[:count]) + "\n")
                cold = build_devenv(engine, root, True)
                with (root / "requirements.txt").open("a") as f:
                    f.write(ADDED)
                edit = build_devenv(engine, root, False)
                print(f"| {count} | {installer} | {cold:.1f} s | {edit:.1f} s |")
            finally:
                shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installer", choices=("pip", "uv"), action="append")
    parser.add_argument("--scaling", action="store_true")
    parser.add_argument("--builds-only", action="store_true", help="no verify, up, host-install")
    args = parser.parse_args()
    with Engine.connect() as engine:
        # The default installer first; the every-day table once, on its images.
        for n, installer in enumerate(args.installer or ["uv"]):
            compare(engine, installer, args.builds_only or n > 0)
        if args.scaling:
            scaling(engine)


if __name__ == "__main__":
    main()
