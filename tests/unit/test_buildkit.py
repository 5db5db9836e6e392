"""The BuildKit builder: when it is used, the bake it runs, the cache-mount Dockerfile it
builds, and how BuildKit's progress becomes devenv's steps and errors."""

from __future__ import annotations

import base64
import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devenv.container import build as classic
from devenv.container import buildkit
from devenv.container.buildkit import BakeTarget, Builder, StatusReader
from devenv.errors import BuildError
from devenv.plan.model import load_plan
from devenv.render.dockerfile import render_dockerfile
from devenv.steps.recipe import compile_plan
from tests.conftest import MakeProject

GOLDEN = Path(__file__).parent.parent / "golden" / "buildkit"
PLAN = "[environment]\nname = 'backend'\n"


class _Api:
    def __init__(self, version: str) -> None:
        self.api_version = version


class _Engine:
    def __init__(self, version: str, *, podman: bool = False) -> None:
        self.api = _Api(version)
        self.podman = podman

    def is_podman(self) -> bool:
        return self.podman


def _answer(code: int, out: str) -> Any:
    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert argv[1:] == ["buildx", "version"]
        assert kwargs["env"]["DOCKER_HOST"]
        return subprocess.CompletedProcess(argv, code, out, "")

    return run


@pytest.fixture
def docker_on_path(tmp_path: Path) -> dict[str, str]:
    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    docker.write_text("#!/bin/sh\n")
    docker.chmod(0o755)
    return {"PATH": str(docker.parent), "HOME": str(tmp_path)}


@pytest.mark.parametrize(
    ("api", "code", "out", "expected"),
    [
        ("1.51", 0, "github.com/docker/buildx 0.29.1 0.29.1+ds1-1\n", Builder.BUILDKIT),
        ("1.42", 0, "github.com/docker/buildx v0.13.1 abc\n", Builder.BUILDKIT),
        ("1.41", 0, "github.com/docker/buildx v0.29.1 abc\n", Builder.CLASSIC),  # Docker 20.10
        ("1.51", 1, "", Builder.CLASSIC),  # no buildx plugin
        ("1.51", 0, "github.com/docker/buildx v0.12.0 abc\n", Builder.CLASSIC),  # no rawjson
    ],
)
def test_detect(
    docker_on_path: dict[str, str], api: str, code: int, out: str, expected: Builder
) -> None:
    engine: Any = _Engine(api)
    assert buildkit.detect(engine, docker_on_path, run=_answer(code, out)) is expected


def test_podman_builds_classic_whatever_api_version_it_reports(
    docker_on_path: dict[str, str],
) -> None:
    engine: Any = _Engine("1.44", podman=True)
    assert buildkit.detect(engine, docker_on_path, run=_answer(0, "v0.29.1")) is Builder.CLASSIC


def test_detect_without_docker_cli(tmp_path: Path) -> None:
    engine: Any = _Engine("1.51")
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    assert buildkit.detect(engine, env, run=_answer(0, "v0.29.1")) is Builder.CLASSIC


def test_cli_env_names_the_engine_devenv_resolved(tmp_path: Path) -> None:
    env = buildkit.cli_env({"HOME": str(tmp_path), "PATH": "/bin"})
    assert env["DOCKER_HOST"] == "unix:///var/run/docker.sock" and env["PATH"] == "/bin"
    env = buildkit.cli_env({"DOCKER_HOST": "tcp://10.0.0.2:2376", "DOCKER_TLS_VERIFY": "1"})
    assert env["DOCKER_HOST"] == "tcp://10.0.0.2:2376" and env["DOCKER_TLS_VERIFY"] == "1"
    assert "DOCKER_CONTEXT" not in buildkit.cli_env(
        {"DOCKER_HOST": "unix:///x", "DOCKER_CONTEXT": "a"}
    )


def test_bake_definition_and_argv() -> None:
    targets = [
        BakeTarget(target="dev", ref="devenv/p-dev:latest", labels={"dev.devenv.target": "dev"}),
        BakeTarget(target="db", ref="devenv/p-db:latest", labels={}),
    ]
    definition = buildkit.bake_definition(
        "FROM x AS base\n", targets, build_args={"HTTP_PROXY": "http://proxy:3128"}, no_cache=True
    )
    assert definition["group"]["default"]["targets"] == ["dev", "db"]
    dev = definition["target"]["dev"]
    assert dev["context"] == "." and dev["dockerfile-inline"] == "FROM x AS base\n"
    assert dev["target"] == "dev" and dev["tags"] == ["devenv/p-dev:latest"]
    assert dev["labels"] == {"dev.devenv.target": "dev"} and dev["no-cache"] is True
    assert dev["args"] == {"HTTP_PROXY": "http://proxy:3128"} and dev["output"] == ["type=docker"]
    assert "cache-from" not in definition["target"]["db"]
    json.dumps(definition)  # bake reads it as JSON from stdin
    argv = buildkit.bake_argv("/usr/bin/docker", targets)
    assert argv == [
        "/usr/bin/docker",
        *("buildx", "bake", "--file", "-", "--progress", "rawjson", "dev", "db"),
    ]


def test_buildkit_golden(make_project: MakeProject) -> None:
    """The cache-mount variant of the ubuntu-24.04-pg16 golden (DEVENV_UPDATE_GOLDEN=1
    rewrites it)."""
    text = render_dockerfile(compile_plan(load_plan(make_project(PLAN))), cache_mounts=True)
    golden = GOLDEN / "ubuntu-24.04-pg16.Dockerfile"
    if os.environ.get("DEVENV_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.read_text() == text


def test_cache_mount_variant(make_project: MakeProject) -> None:
    recipe = compile_plan(load_plan(make_project(PLAN)))
    plain, cached = render_dockerfile(recipe), render_dockerfile(recipe, cache_mounts=True)
    assert "--mount" not in plain and "syntax" not in cached.splitlines()[0]
    # The same stages and instructions, in the same order: only the RUN lines differ.
    assert [line.split()[0] for line in plain.splitlines() if line[:1].isupper()] == [
        line.split()[0] for line in cached.splitlines() if line[:1].isupper()
    ]
    runs = cached.split("\nRUN ")
    apt = [r for r in runs if "apt-get" in r.split("\n\n")[0]]
    assert len(apt) == 2  # the db's and the dev's
    for run in apt:
        step = run.split("\n\n")[0]
        assert "--mount=type=cache,target=/var/cache/apt,sharing=locked" in step
        assert "--mount=type=cache,target=/var/lib/apt/lists,sharing=locked" in step
        assert "apt-get clean" not in step and "/var/lib/apt/lists -type f -delete" not in step
        # docker-clean (in the base) deletes /var/cache/apt/archives/*.deb: apt keeps elsewhere.
        assert all(
            "Dir::Cache::Archives=/var/cache/apt/kept/" in line
            for line in step.splitlines()
            if "apt-get " in line
        )
    assert "--mount=type=cache,target=/var/cache/devenv/uv,uid=1000,gid=1000" in cached
    assert "UV_CACHE_DIR=/var/cache/devenv/uv UV_LINK_MODE=copy /opt/venv/bin/uv" in cached
    assert "UV_NO_CACHE" not in cached and "--no-cache-dir" not in cached
    assert "--mount=type=cache,target=/var/cache/devenv/pip,uid=1000,gid=1000" in cached


def test_cache_mount_variant_pip(make_project: MakeProject) -> None:
    recipe = compile_plan(load_plan(make_project(PLAN + "[python]\ninstaller = 'pip'\n")))
    cached = render_dockerfile(recipe, cache_mounts=True)
    assert "--no-cache-dir" not in cached and cached.count("--cache-dir /var/cache/devenv/pip") == 2


# -- BuildKit's progress ----------------------------------------------------------------------


def _status(vertexes: list[dict[str, Any]] = (), logs: list[tuple[str, str]] = ()) -> str:  # type: ignore[assignment]
    out: dict[str, Any] = {}
    if vertexes:
        out["vertexes"] = vertexes
    if logs:
        out["logs"] = [
            {"vertex": v, "stream": 1, "data": base64.b64encode(t.encode()).decode()}
            for v, t in logs
        ]
    return json.dumps(out)


class _Seen(classic.Progress):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def output(self, record: classic.StepRecord, line: str) -> None:
        self.lines.append(line)


def _reader() -> tuple[StatusReader, dict[str, classic.TargetResult], _Seen]:
    results = {
        name: classic.TargetResult(target=name, ref=f"p-{name}" if name != "base" else "")
        for name in ("base", "dev", "db")
    }
    seen = _Seen()
    return StatusReader(results, seen, "dev", classic.StepRecord), results, seen


T = "2026-12-06T10:00:00Z"
DIAGNOSE = functools.partial(classic.step_failure, release=None, advice={})


def test_reader_steps_by_stage() -> None:
    reader, results, _ = _reader()
    for line in (
        _status(
            [{"digest": "sha256:0", "name": "[internal] load build definition from Dockerfile"}]
        ),
        _status(
            [
                {
                    "digest": "sha256:1",
                    "name": "[db base 1/2] FROM docker.io/library/ubuntu:24.04",
                    "started": T,
                    "completed": T,
                }
            ]
        ),
        _status(
            [
                {
                    "digest": "sha256:2",
                    "name": "[dev base 2/2] COPY docker/certs/ /usr/local/",
                    "started": T,
                    "completed": T,
                    "cached": True,
                }
            ]
        ),
        _status([{"digest": "sha256:3", "name": "[db 1/3] RUN apt-get update", "started": T}]),
        _status(
            [
                {
                    "digest": "sha256:3",
                    "name": "[db 1/3] RUN apt-get update",
                    "started": T,
                    "completed": T,
                }
            ]
        ),
        _status(
            [
                {
                    "digest": "sha256:4",
                    "name": "[dev 4/9] WORKDIR /workspace",
                    "started": T,
                    "completed": T,
                    "cached": True,
                }
            ]
        ),
        _status([{"digest": "sha256:5", "name": "exporting to image", "started": T}]),
        "not json: buildx's own words",
    ):
        reader.feed(line)
    assert [(s.stage, s.number, s.total) for s in results["base"].steps] == [
        ("base", 1, 2),
        ("base", 2, 2),
    ]
    assert results["base"].steps[0].instruction.startswith("FROM ")
    assert not results["base"].steps[0].ran and results["base"].steps[1].cached
    assert [(s.instruction, s.ran, s.cached) for s in results["db"].steps] == [
        ("RUN apt-get update", True, False)
    ]
    assert [s.instruction for s in results["dev"].steps] == ["WORKDIR /workspace"]
    assert list(reader.other) == ["not json: buildx's own words"]


def test_reader_logs_split_lines_and_failure_hint() -> None:
    reader, _, seen = _reader()
    reader.feed(
        _status(
            [
                {
                    "digest": "sha256:3",
                    "name": "[dev 3/9] RUN apt-get install -y nosuch",
                    "started": T,
                }
            ]
        )
    )
    reader.feed(_status(logs=[("sha256:3", "Reading package lists...\nE: Unable to loc")]))
    reader.feed(_status(logs=[("sha256:3", "ate package nosuch\n")]))
    reader.feed(
        _status(
            [
                {
                    "digest": "sha256:9",
                    "name": "[db 1/3] RUN apt-get update",
                    "error": "context canceled",
                }
            ]
        )
    )
    reader.feed(
        _status(
            [
                {
                    "digest": "sha256:3",
                    "name": "[dev 3/9] RUN apt-get install -y nosuch",
                    "error": "process did not complete successfully: exit code: 100",
                }
            ]
        )
    )
    assert seen.lines == ["Reading package lists...", "E: Unable to locate package nosuch"]
    error = buildkit.failure(reader, "dev", DIAGNOSE)
    assert (
        "apt cannot find the package nosuch" in error.message and "the dev image" in error.message
    )


def test_reader_failure_without_hint_names_the_step() -> None:
    reader, _, _ = _reader()
    reader.feed(
        _status(
            [
                {
                    "digest": "sha256:3",
                    "name": "[dev base 2/2] COPY docker/certs/ /x",
                    "error": "failed to compute cache key: not found",
                }
            ]
        )
    )
    error = buildkit.failure(reader, "dev", DIAGNOSE)
    assert isinstance(error, BuildError)
    assert "the base stage" in error.message and "step 2/2 (COPY docker/certs/ /x)" in error.message
    assert "failed to compute cache key" in error.message


def test_failure_before_any_step() -> None:
    reader, _, _ = _reader()
    reader.feed("ERROR: failed to dial gRPC: cannot connect to the Docker daemon")
    error = buildkit.failure(reader, "dev", DIAGNOSE)
    assert "cannot connect to the Docker daemon" in error.message


def test_reader_one_step_for_the_shared_stage_of_both_targets() -> None:
    """bake asks for the shared stage once per target: one runs, the other is its cache hit,
    in either order; devenv reports one step that ran."""
    reader, results, _ = _reader()
    copy = "COPY docker/certs/ /usr/local/share/ca-certificates/devenv/"
    reader.feed(_status([{"digest": "sha256:a", "name": f"[db base 2/2] {copy}"}]))
    reader.feed(_status([{"digest": "sha256:b", "name": f"[dev base 2/2] {copy}"}]))
    reader.feed(_status([{"digest": "sha256:a", "name": "x", "completed": T, "cached": True}]))
    reader.feed(_status([{"digest": "sha256:b", "name": "x", "started": T, "completed": T}]))
    assert [(s.instruction, s.ran, s.cached) for s in results["base"].steps] == [
        (copy, True, False)
    ]


def test_reader_smoke_failure_from_stderr() -> None:
    """The smoke program writes to stderr (stream 2): its lines make devenv's smoke error."""
    reader, _, _ = _reader()
    name = '[dev 9/9] RUN ["/opt/venv/bin/python", "-c", "import importlib, sys"]'
    reader.feed(_status([{"digest": "sha256:9", "name": name, "started": T}]))
    line = (
        "import psycopg failed: ImportError: no pq wrapper available "
        "(expected from requirement psycopg==3.2.3 in requirements.txt)\n"
    )
    status = json.loads(_status(logs=[("sha256:9", line)]))
    status["logs"][0]["stream"] = 2
    reader.feed(json.dumps(status))
    reader.feed(_status([{"digest": "sha256:9", "name": name, "error": "exit code: 1"}]))
    error = buildkit.failure(reader, "dev", DIAGNOSE)
    assert "failed at the smoke imports: import psycopg failed" in error.message
