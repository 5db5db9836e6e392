"""BuildKit builds, where the engine has it: both images in one `docker buildx bake` graph.

docker-py speaks only the classic builder's API (no BuildKit session), so the docker CLI's
buildx plugin builds, as an argv, on the engine docker-py talks to. The bake definition (the
cache-mount Dockerfile inline, both targets) goes in by stdin: nothing is written, and the
shared stage is one set of vertices both targets stand on. Progress comes back as
`--progress=rawjson` (BuildKit's solve status, one JSON document a line) and is read into the
same step records and errors the classic stream gives.
"""

from __future__ import annotations

import base64
import enum
import json
import re
import shutil
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from devenv.container import engine_target
from devenv.container.engine import Engine
from devenv.container.stages import SHARED_STAGE
from devenv.errors import BuildError


class Builder(str, enum.Enum):
    CLASSIC = "classic"  # docker-py's build API: Docker 20.10, Podman
    BUILDKIT = "buildkit"  # docker buildx bake


#: Docker 23 (API 1.42): BuildKit is the default builder and its built-in Dockerfile frontend
#: knows RUN --mount, so no `# syntax=` line (no frontend image to pull). Podman's Docker API
#: says 1.41 and has no BuildKit.
MIN_API = (1, 42)
#: buildx 0.13 has --progress=rawjson.
MIN_BUILDX = (0, 13)
_BUILDX_VERSION = re.compile(r"\bv?(\d+)\.(\d+)(?:\.\d+)?")
# BuildKit names a Dockerfile step's vertex "[STAGE N/M] INSTRUCTION"; bake puts the target
# first ("[dev base 1/3] FROM ...").
_VERTEX = re.compile(r"^\[(?:(?P<target>[^\s\]]+) )?(?P<stage>[^\s\]]+) (?P<n>\d+)/(?P<m>\d+)\] ")
_CANCELED = "context canceled"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

Run = Callable[..., "subprocess.CompletedProcess[str]"]
TAIL_LINES = 25  # the classic reader's: what an error shows
STEP_LINES = 400  # what the diagnoses read (a compiler's complaint comes long before the end)


class Record(Protocol):
    """A build step as devenv reports it (container.build's StepRecord)."""

    target: str
    stage: str
    number: int
    total: int
    instruction: str
    cached: bool
    ran: bool
    seconds: float


class Result(Protocol):
    """One image's build (container.build's TargetResult)."""

    target: str
    ref: str
    image_id: str
    steps: list[Any]
    finished: bool


class Progress(Protocol):
    def step(self, record: Any) -> None: ...
    def output(self, record: Any, line: str) -> None: ...
    def cached(self, record: Any) -> None: ...
    def done(self, result: Any) -> None: ...


class NewStep(Protocol):
    def __call__(
        self, *, target: str, stage: str, number: int, total: int, instruction: str
    ) -> Record: ...


class Diagnose(Protocol):
    """container.build's step_failure: the error and hint a failed step's output points to."""

    def __call__(
        self,
        *,
        stage: str,
        target: str,
        where: str,
        text: str,
        from_step: bool,
        tail: list[str],
        step_lines: list[str],
    ) -> BuildError: ...


def _version(text: str) -> tuple[int, int]:
    match = _BUILDX_VERSION.search(text)
    return (int(match[1]), int(match[2])) if match else (0, 0)


def cli_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The docker CLI's environment: the engine devenv resolved (engine_target), named by
    DOCKER_HOST, so buildx builds where docker-py inspects and tags."""
    env = {k: v for k, v in environ.items() if k != "DOCKER_CONTEXT"}
    env.update(engine_target.resolve(environ).env())
    return env


def detect(engine: Engine, environ: Mapping[str, str], run: Run = subprocess.run) -> Builder:
    """BuildKit when the engine is Docker's, its API Docker 23's or newer, and the docker CLI's
    buildx plugin (0.13+) answers; else the classic builder. Podman 5 reports a current API
    version, but its Docker API has no BuildKit: buildx against it builds nothing (measured:
    it tries to resolve images on Docker Hub and fails offline)."""
    if _version(str(getattr(engine.api, "api_version", ""))) < MIN_API:
        return Builder.CLASSIC
    if engine.is_podman():
        return Builder.CLASSIC
    docker = shutil.which("docker", path=environ.get("PATH"))
    if docker is None:
        return Builder.CLASSIC
    try:
        done = run(
            [docker, "buildx", "version"],
            env=cli_env(environ),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return Builder.CLASSIC
    if done.returncode != 0 or _version(done.stdout) < MIN_BUILDX:
        return Builder.CLASSIC
    return Builder.BUILDKIT


@dataclass(frozen=True, kw_only=True)
class BakeTarget:
    target: str
    ref: str
    labels: Mapping[str, str]


def bake_definition(
    dockerfile: str,
    targets: Sequence[BakeTarget],
    *,
    build_args: Mapping[str, str],
    no_cache: bool,
) -> dict[str, Any]:
    """The bake file (JSON): every target from the project folder (the working directory, so
    bake needs no file-system entitlement), the Dockerfile inline, loaded into the engine. No
    cache source: the registry's images carry no BuildKit cache metadata (neither builder
    pushes it), so BuildKit could use none of them."""
    return {
        "group": {"default": {"targets": [t.target for t in targets]}},
        "target": {
            t.target: {
                "context": ".",
                "dockerfile-inline": dockerfile,
                "target": t.target,
                "tags": [t.ref],
                "labels": dict(t.labels),
                "args": dict(build_args),
                "no-cache": no_cache,
                "output": ["type=docker"],
            }
            for t in targets
        },
    }


def bake_argv(docker: str, targets: Sequence[BakeTarget]) -> list[str]:
    return [docker, "buildx", "bake", "--file", "-", "--progress", "rawjson"] + [
        t.target for t in targets
    ]


@dataclass(kw_only=True)
class _Vertex:
    record: Record
    result: Result
    started: float | None = None
    completed: set[str] = field(default_factory=set)  # its vertices (digests) that completed
    partial: str = ""  # a log line not ended yet
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=STEP_LINES))
    error: str = ""


class StatusReader:
    """BuildKit's solve status (rawjson lines) into step records: a vertex named after a
    Dockerfile step is one step, of the shared stage's result or its target's. Vertices of
    BuildKit's own (loading the definition, the context, exporting) are not steps."""

    def __init__(
        self,
        results: Mapping[str, Result],
        progress: Progress,
        default_target: str,
        new_step: NewStep,
    ) -> None:
        self.results = results
        self.progress = progress
        self.default_target = default_target
        self.new_step = new_step
        self.vertices: dict[str, _Vertex] = {}  # by digest
        self.steps: dict[tuple[str, str, str], _Vertex] = {}  # by stage, number, instruction
        self.other: deque[str] = deque(maxlen=TAIL_LINES)  # what is not JSON

    def feed(self, line: str) -> None:
        try:
            status = json.loads(line)
        except ValueError:
            if line.strip():
                self.other.append(line.rstrip())
            return
        if not isinstance(status, dict):
            return
        for vertex in status.get("vertexes") or ():
            self._vertex(vertex)
        for log in status.get("logs") or ():
            self._log(log)

    def _vertex(self, data: Mapping[str, Any]) -> None:
        digest = str(data.get("digest", ""))
        known = self.vertices.get(digest)
        if known is None:
            name = str(data.get("name", ""))
            match = _VERTEX.match(name)
            if match is None:
                return
            stage = match["stage"]
            step = (stage, match["n"], name[match.end() :])
            # The shared stage's steps come once per target that asks for them (one runs, the
            # other is its cache hit): one step.
            known = self.steps.get(step)
            if known is None:
                owner = SHARED_STAGE if stage == SHARED_STAGE else stage
                result = (
                    self.results.get(owner) or self.results[match["target"] or self.default_target]
                )
                record = self.new_step(
                    target=result.target,
                    stage=stage,
                    number=int(match["n"]),
                    total=int(match["m"]),
                    instruction=step[2],
                )
                known = self.steps[step] = _Vertex(record=record, result=result)
                result.steps.append(record)
                self.progress.step(record)
            self.vertices[digest] = known
        record = known.record
        if data.get("started") and known.started is None:
            known.started = time.monotonic()
        if data.get("completed") and digest not in known.completed:
            known.completed.add(digest)
            if known.started is not None:
                record.seconds = max(record.seconds, time.monotonic() - known.started)
            if not data.get("cached") and not record.instruction.startswith("FROM "):
                record.ran, record.cached = True, False
            elif data.get("cached") and not record.ran and not record.cached:
                record.cached = True
                self.progress.cached(record)
        if data.get("error"):
            known.error = " ".join(str(data["error"]).split())

    def _log(self, data: Mapping[str, Any]) -> None:
        known = self.vertices.get(str(data.get("vertex", "")))
        if known is None:
            return
        text = known.partial + base64.b64decode(str(data.get("data", ""))).decode(
            "utf-8", "replace"
        )
        *complete, known.partial = text.split("\n")
        for raw in complete:
            line = _ANSI.sub("", raw).rstrip()
            if line.strip():
                known.lines.append(line)
                self.progress.output(known.record, line)

    def failed(self) -> _Vertex | None:
        """The step that failed: the first error that is not a cancellation (a failed target
        cancels the other's steps)."""
        errors = [v for v in self.steps.values() if v.error]
        real = [v for v in errors if _CANCELED not in v.error]
        return next(iter(real or errors), None)


def failure(reader: StatusReader, target: str, diagnose: Diagnose) -> BuildError:
    """The build's error with devenv's hints, read from the failing step's output as the
    classic path does (apt, compiler, smoke and library-check diagnoses)."""
    vertex = reader.failed()
    if vertex is None:
        text = " ".join(reader.other) or "buildx failed before any step"
        return BuildError(
            f"building {target} failed: {text[-2000:]}",
            hint="see the output above; then build again",
            details="\n".join(reader.other),
        )
    record = vertex.record
    step_lines = list(vertex.lines)
    return diagnose(
        stage=record.stage,
        target=record.target if record.target != SHARED_STAGE else target,
        where=f"step {record.number}/{record.total} ({record.instruction})",
        text=vertex.error,
        from_step=record.instruction.startswith("FROM "),
        tail=step_lines[-TAIL_LINES:],
        step_lines=step_lines,
    )


def bake(
    *,
    root: Path,
    dockerfile: str,
    targets: Sequence[BakeTarget],
    build_args: Mapping[str, str],
    no_cache: bool,
    environ: Mapping[str, str],
    progress: Progress,
    results: Mapping[str, Result],
    new_step: NewStep,
    diagnose: Diagnose,
    engine: Engine,
) -> None:
    """Build `targets` in one bake. `results`: each target's and the shared stage's, filled
    as the steps come (a failure's summary has what was done)."""
    docker = shutil.which("docker", path=environ.get("PATH")) or "docker"
    reader = StatusReader(results, progress, targets[0].target, new_step)
    definition = bake_definition(dockerfile, targets, build_args=build_args, no_cache=no_cache)
    process = subprocess.Popen(
        bake_argv(docker, targets),
        cwd=root,
        env=cli_env(environ),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    try:
        assert process.stdin is not None and process.stderr is not None
        process.stdin.write(json.dumps(definition))
        process.stdin.close()
        _read(process.stderr, reader)
        code = process.wait()
    finally:
        if process.poll() is None:  # interrupted: buildx cancels the build on SIGTERM
            process.terminate()
            process.wait()
    for result in results.values():  # in the Dockerfile's order
        result.steps.sort(key=lambda record: record.number)
    if code != 0:
        raise failure(reader, targets[0].target, diagnose)
    for result in results.values():
        result.finished = True
        if result.ref:
            result.image_id = engine.image_id(result.ref)
            progress.done(result)


def _read(stream: Iterable[str], reader: StatusReader) -> None:
    for line in stream:
        reader.feed(line)
