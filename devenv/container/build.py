"""`devenv build`: the dev and db images through the engine's build API, with live progress.

The low-level API streams JSON messages and never raises for a failed step, so the stream is
read here: step headers ("Step N/M : ..."), cache hits, output, and the error that ends it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import re
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devenv.container import buildkit, registry, why
from devenv.container.engine import Engine, context_files
from devenv.container.stages import SHARED_STAGE, stage_dockerfile, stage_named
from devenv.container.tags import copied_files, copy_sources, lock_bytes, plan_tags
from devenv.container.why import ImageInputs, Reason, image_inputs, reasons
from devenv.errors import BuildError, EngineError
from devenv.files.generate import generate_files
from devenv.plan.lock_status import lock_status
from devenv.plan.model import Plan, Target
from devenv.project import smoke
from devenv.project.requirements import normalise
from devenv.render.dockerfile import render_dockerfile
from devenv.render.labels import LABEL_CONTENT, LABEL_PLAN, LABEL_PROJECT, LABEL_STEPS, LABEL_TARGET
from devenv.review import diagnosis as build_diagnosis
from devenv.rules.distro import Release
from devenv.steps import native_libs
from devenv.steps.model import Mode
from devenv.steps.recipe import Recipe, compile_plan
from devenv.support.concurrency import side_by_side

TARGETS = (Target.DEV, Target.DB)
# Docker's predefined proxy build args: usable by RUN without an ARG line, and kept out of
# the image history and config. Nothing else from the environment reaches a build.
PROXY_ARGS = tuple(
    name
    for base in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (base, base.lower())
)
# Docker's "Step 3/9 : RUN …"; Podman's (buildah's) "[1/2] STEP 3/9: RUN …", numbered per stage.
_STEP = re.compile(r"^(?:Step (\d+)/(\d+) : |(?:\[\d+/\d+\] )?STEP (\d+)/(\d+): )(.*)$")
_UNSERVED = re.compile(r"Version '([^']+)' for '([^']+)' was not found")
_UNLOCATED = re.compile(
    r"E: (?:Unable to locate package (\S+)|Package '?([^' ]+)'? has no installation candidate)"
)
# What apt, pip and uv say when there is no network; one such line makes the hint about it.
_OFFLINE = re.compile(
    r"Temporary failure resolving|Could not resolve|Network is unreachable|"
    r"Connection (timed out|refused)|Failed to establish a new connection|"
    r"Max retries exceeded|No route to host|Name or service not known|dns error"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The classic builder names the image of each finished step.
_LAYER = re.compile(r"---> [0-9a-f]{12,64}$")
_NOISE = ("Removing intermediate container", "Successfully tagged ", "--> ", "COMMIT ")
TAIL_LINES = 25
STEP_LINES = 400


@dataclass(kw_only=True)
class StepRecord:
    target: str
    stage: str  # the Dockerfile stage the step belongs to: base, db or dev
    number: int
    total: int
    instruction: str
    cached: bool = False
    ran: bool = False  # a container ran for it (RUN) or it was committed anew
    seconds: float = 0.0


@dataclass(kw_only=True)
class TargetResult:
    target: str
    ref: str
    image_id: str = ""
    steps: list[StepRecord] = field(default_factory=list)
    last_layer: str = ""  # the image of the last step that finished (what a retry resumes from)
    finished: bool = False  # the build ran to its end (image_id alone may name an earlier stage)
    reasons: tuple[Reason, ...] = ()  # why each step that ran did (container.why)


class Progress:
    """What a build reports as it goes; the CLI picks a terminal, plain or quiet flavour."""

    def step(self, record: StepRecord) -> None: ...
    def output(self, record: StepRecord, line: str) -> None: ...
    def cached(self, record: StepRecord) -> None: ...
    def done(self, result: TargetResult) -> None: ...


def proxy_build_args(env: Mapping[str, str]) -> dict[str, str]:
    return {name: env[name] for name in PROXY_ARGS if env.get(name)}


def read_stream(
    target: str,
    messages: Iterable[dict[str, Any]],
    progress: Progress,
    result: TargetResult,
    release: Release | None = None,
    advice: Mapping[str, str] | None = None,
) -> None:
    """Consume one build's stream into `result`; BuildError names the failing step. `advice`:
    the review's word on source builds that may fail (distribution -> what works instead)."""
    current: StepRecord | None = None
    stage = "base"
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    # A compiler's complaint comes long before pip's last lines: keep more of the step.
    step_lines: deque[str] = deque(maxlen=STEP_LINES)
    for message in messages:
        if "errorDetail" in message or "error" in message:
            detail = message.get("errorDetail") or {}
            text = " ".join(str(detail.get("message") or message.get("error") or "").split())
            where = (
                f"step {current.number}/{current.total} ({current.instruction})"
                if current
                else "before the first step"
            )
            raise step_failure(
                stage=stage,
                target=target,
                where=where,
                text=text,
                from_step=bool(current and current.instruction.startswith("FROM ")),
                tail=list(tail),
                step_lines=list(step_lines),
                release=release,
                advice=advice or {},
            )
        if "aux" in message and isinstance(message["aux"], dict) and "ID" in message["aux"]:
            result.image_id = str(message["aux"]["ID"])
        for raw in str(message.get("stream", "")).splitlines():
            line = _ANSI.sub("", raw).rstrip()
            match = _STEP.match(line)
            if match:
                if current:
                    current.seconds = time.monotonic() - started
                started = time.monotonic()
                stage = stage_named(match[5]) or stage
                current = StepRecord(
                    target=target,
                    stage=stage,
                    number=int(match[1] or match[3]),
                    total=int(match[2] or match[4]),
                    instruction=match[5],
                )
                result.steps.append(current)
                tail.clear()
                step_lines.clear()
                progress.step(current)
            elif current and (
                line.strip() == "---> Using cache" or line.strip().startswith("--> Using cache ")
            ):
                current.cached = True
                progress.cached(current)
            elif current and line.strip().startswith("---> Running in"):
                current.ran = True
            elif _LAYER.match(line.strip()):
                result.last_layer = line.strip()[len("---> ") :]
            elif line.strip().startswith(("---> ", *_NOISE)) or not line.strip():
                continue
            elif line.startswith("Successfully built "):
                result.image_id = result.image_id or line.split()[-1]
            elif current:
                tail.append(line)
                step_lines.append(line)
                progress.output(current, line)
    if current:
        current.seconds = time.monotonic() - started
    if not result.image_id:
        raise BuildError(
            f"building {target} ended without an image",
            hint="see the output above; then build again",
        )


def step_failure(
    *,
    stage: str,
    target: str,
    where: str,
    text: str,
    from_step: bool,
    tail: list[str],
    step_lines: list[str],
    release: Release | None,
    advice: Mapping[str, str],
) -> BuildError:
    """A failed step's error, with the hint its output points to (either builder's)."""
    if from_step:
        hint = "run `devenv base` to bootstrap it without a registry"
    elif any(_OFFLINE.search(line) for line in step_lines):
        hint = (
            "the step could not reach the network (see its output above): check the "
            "connection, a proxy (HTTP(S)_PROXY) or the host's DNS, then build again"
        )
    else:
        hint = "fix the step (or the plan it came from) and build again"
    return (
        unserved_pin(tail)
        or unlocated_package(tail, stage, target)
        or unbuilt_source(step_lines, tail, release)
        or failed_smoke(tail, stage, target)
        or missing_libraries(tail, stage, target)
        or incompatible_pin(step_lines, tail, release, advice)
        or BuildError(
            f"building {_what(stage, target)} failed at {where}: {text}",
            hint=hint,
            details="\n".join(tail),
        )
    )


def unserved_pin(output: Iterable[str]) -> BuildError | None:
    """apt's "Version 'V' for 'P' was not found": a pin the archive no longer serves."""
    lines = list(output)
    for line in lines:
        match = _UNSERVED.search(line)
        if match:
            version, package = match.groups()
            return BuildError(
                f"the archive no longer serves {package}={version}, pinned by devenv.lock",
                hint="run `devenv lock --upgrade` to pin what it serves now",
                details="\n".join(lines),
            )
    return None


def unbuilt_source(
    lines: Iterable[str], tail: Iterable[str], release: Release | None
) -> BuildError | None:
    """A requirement that compiled from source and missed a header or tool: name both."""
    if release is None:
        return None
    found = build_diagnosis.failed_compile(lines, release.codename)
    if found is None:
        return None
    return BuildError(
        build_diagnosis.message(found, release.label),
        hint=f'add "{found[2]}" to [system] packages in devenv.toml, then build again',
        details="\n".join(tail),
    )


def failed_smoke(output: Iterable[str], stage: str, target: str) -> BuildError | None:
    """The smoke program's lines: each import that failed, with the requirement expected to
    provide it (devenv.project.smoke), instead of the RUN line that carries the program."""
    lines = list(output)
    found = smoke.failures(lines)
    if not found:
        return None
    return BuildError(
        f"building {_what(stage, target)} failed at the smoke imports: {'; '.join(found)}",
        hint=smoke.HINT,
        details="\n".join(lines),
    )


def missing_libraries(output: Iterable[str], stage: str, target: str) -> BuildError | None:
    """The run-time library check's lines (devenv.steps.native_libs): each library the venv's
    extension modules link that the image lacks, with the package that provides it."""
    lines = list(output)
    found = native_libs.failures(lines)
    if not found:
        return None
    return BuildError(
        f"building {_what(stage, target)} failed at the run-time library check: "
        + "; ".join(found),
        hint=native_libs.HINT,
        details="\n".join(lines),
    )


def incompatible_pin(
    lines: Iterable[str], tail: Iterable[str], release: Release | None, advice: Mapping[str, str]
) -> BuildError | None:
    """A requirement that failed to compile where the review knows what installs from wheels
    instead: a pin older than the image's Python (greenlet 3.0.3 on 3.13) says so only in
    compiler errors."""
    package = build_diagnosis.failed_package(lines)
    instead = advice.get(normalise(package)) if package else None
    if not package or not instead or release is None:
        return None
    return BuildError(
        f"{package} failed to build from source on {release.label}'s Python {release.python}",
        hint=f"{instead}: pin that version, or set [environment] base",
        details="\n".join(tail),
    )


def _what(stage: str, target: str) -> str:
    """Which image failed. The classic builder builds every stage before the target, so the
    dev build also runs the db stage: name the stage that failed, not just the target."""
    if stage == target:
        return f"the {target} image"
    if stage == "base":
        return f"the base stage (shared by the dev and db images, while building {target})"
    return f"the {stage} image (its stage runs while building {target})"


def unlocated_package(output: Iterable[str], stage: str, target: str) -> BuildError | None:
    """apt's "Unable to locate package X": name X and where such packages come from."""
    lines = list(output)
    for line in lines:
        match = _UNLOCATED.search(line)
        if not match:
            continue
        package = match[1] or match[2]
        if re.fullmatch(r"postgresql-(client-)?\d+(-\S+)?", package):
            hint = (
                "the base's archive has no such PostgreSQL package: set [postgres] version to "
                'the one the release ships, or source = "pgdg"'
            )
        else:
            hint = (
                "check the name (apt-cache search); if it is in another component or suite "
                "(Ubuntu's universe, -updates), make the base again with them: "
                "`devenv base --force`"
            )
        return BuildError(
            f"building {_what(stage, target)} failed: apt cannot find the package {package} in "
            "the base image's sources",
            hint=hint,
            details="\n".join(lines),
        )
    return None


class FailedBuild(BuildError):
    """A BuildError that carries what was built before it (for `--json`)."""

    def __init__(self, error: BuildError, summary: BuildSummary) -> None:
        super().__init__(error.message, hint=error.hint, details=error.details)
        self.summary = summary


@dataclass(frozen=True, kw_only=True)
class BuildSummary:
    images: dict[str, str]
    image_ids: dict[str, str]
    steps_total: int
    steps_cached: int
    steps_run: int
    seconds: float
    targets: tuple[TargetResult, ...]
    error: str | None = None  # None: every target built
    tags: dict[str, str] = field(default_factory=dict)  # target -> content tag
    pulled: dict[str, str] = field(default_factory=dict)  # target -> registry ref it came from
    current: tuple[str, ...] = ()  # targets whose image on the engine already had the tag
    pushed: tuple[str, ...] = ()  # refs pushed (--push)

    def why(self) -> list[str]:
        """For the steps that re-ran, which of their inputs changed (consecutive steps that
        re-ran for one reason on one line)."""
        return [line for t in self.targets for line in why.lines(t.target, t.reasons)]

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.error is None,
            "error": self.error,
            "images": self.images,
            "image_ids": self.image_ids,
            "steps_total": self.steps_total,
            "steps_cached": self.steps_cached,
            "steps_run": self.steps_run,
            "seconds": round(self.seconds, 2),
            "tags": self.tags,
            "pulled": self.pulled,
            "current": list(self.current),
            "pushed": list(self.pushed),
            "steps": [
                {
                    "target": s.target,
                    "stage": s.stage,
                    "number": s.number,
                    "instruction": s.instruction,
                    "cached": s.cached,
                    "seconds": round(s.seconds, 2),
                }
                for t in self.targets
                for s in t.steps
            ],
            "reasons": {t.target: [r.as_json() for r in t.reasons] for t in self.targets},
        }


def build_images(
    plan: Plan,
    engine: Engine,
    progress: Progress,
    *,
    no_cache: bool = False,
    targets: tuple[Target, ...] = TARGETS,
    env: Mapping[str, str] | None = None,
    log: Callable[[str], None] = print,
    use_registry: bool = True,
    push: bool = False,
    recipe: Recipe | None = None,
    builder: buildkit.Builder | None = None,
) -> BuildSummary:
    """Build ``targets``. With `[environment] registry` (and ``use_registry``), an image whose
    content tag is already on the engine or in the registry is taken as is (no step runs);
    only the misses build. ``push`` publishes the images (and the base) afterwards.
    ``builder``: BuildKit where the engine and the docker CLI have it (None: detect)."""
    environ = os.environ if env is None else env
    shared = plan.environment.registry is not None and use_registry
    root = plan.project_dir
    recipe = recipe or compile_plan(plan)
    log(lock_status(plan, frozen=False))  # callers that want --frozen check before connecting
    # Build what the plan says now: bring generated files up to date (hand edits are refused).
    for line in generate_files(plan, check=False, force=False, recipe=recipe).lines(
        changed_only=True
    ):
        log(line)
    registry.base_from_elsewhere(plan, engine, log)
    if not engine.image_exists(plan.environment.base):
        raise BuildError(
            f"the base image {plan.environment.base} is not on the engine at {engine.where}",
            hint="run `devenv base` to bootstrap it from the distribution's archive",
        )
    labels = {LABEL_PROJECT: plan.environment.name}
    started = time.monotonic()
    results: list[TargetResult] = []
    release = plan.environment.release
    # What the review found (the recipe did it before its compile: no index query here).
    advice = dict(recipe.review(Mode.CONTAINER).advice)
    dockerfile = render_dockerfile(recipe)  # what generate just wrote, without its header
    progress = _OneAtATime(progress)
    context = context_files(root)
    base = registry.base_content(engine, plan)  # by content: equal on every image store
    tags = plan_tags(recipe, dockerfile=dockerfile, context=context, base=base, targets=targets)
    fetched = registry.Fetched()
    cache_from: dict[str, list[str]] = {}
    if shared and not no_cache:
        fetched = registry.fetch(plan, engine, tags, log)
        cache_from = registry.cache_sources(plan, engine, fetched, log)
    built = tuple(t for t in targets if t not in fetched.hits and t not in fetched.local)
    done = [
        TargetResult(target=t, ref=plan.image(t), image_id=engine.image_id(plan.image(t)))
        for t in targets
        if t not in built
    ]
    # What each step reads, now and as the image this build replaces recorded it.
    inputs = {
        t: _inputs(recipe, stage_dockerfile(dockerfile, t), context, base)
        for t in (*built, SHARED_STAGE)
    }
    previous: dict[str, tuple[bool, ImageInputs | None]] = {
        t: _previous(engine, plan.image(t)) for t in built
    }

    def own_labels(target: str) -> dict[str, str]:
        return {
            **labels,
            LABEL_TARGET: target,
            LABEL_PLAN: recipe.fingerprint(Target(target)),
            LABEL_CONTENT: tags.get(target, ""),
            LABEL_STEPS: inputs[target].label(),
        }

    def job(target: str, nocache: bool, connection: Engine) -> None:
        result = TargetResult(
            target=target, ref=plan.image(target) if target != SHARED_STAGE else ""
        )
        results.append(result)
        # Inside the build context (.devenv/, never sent but for this file): a Dockerfile from
        # outside makes docker-py send `dockerfile` twice, name and text, and Podman takes the
        # text for the name.
        build_dir = root / ".devenv" / "build"
        build_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="dockerfile-", dir=build_dir) as tmp:
            # The classic builder runs every stage before its target: each image gets a
            # Dockerfile of the shared stage and its own, so db and dev build side by side.
            own = Path(tmp) / "Dockerfile"
            own.write_text(stage_dockerfile(dockerfile, target), encoding="utf-8")
            stream = connection.build(
                path=root,
                dockerfile=str(own.relative_to(root)),
                target=target,
                tag=result.ref or None,
                # The shared stage unlabelled: its end is the images' parent, never a dangling
                # image of its own (a label would add a layer nothing stands on).
                labels=own_labels(target) if result.ref else {},
                buildargs=proxy_build_args(environ),
                nocache=nocache,
                cache_from=cache_from.get(target)
                or [r for refs in cache_from.values() for r in refs],
            )
            try:
                read_stream(target, stream, progress, result, release, advice)
            finally:  # a failed build says why its steps ran too
                had, old = _previous_of(previous, target, len(inputs[target].steps))
                result.reasons = reasons(old, inputs[target], result.steps, had_image=had)
            result.finished = True
        if result.ref:
            progress.done(result)

    def summary(error: str | None = None) -> BuildSummary:
        return dataclasses.replace(
            _summary([*done, *results], started, error=error),
            tags=dict(tags),
            pulled=dict(fetched.hits),
            current=fetched.local,
        )

    try:
        if built and (builder or buildkit.detect(engine, environ)) is buildkit.Builder.BUILDKIT:
            log("building with BuildKit (docker buildx bake; apt and installer downloads cached)")
            names = [Target(t).value for t in built]
            kit = {t: TargetResult(target=t, ref=plan.image(t)) for t in names}
            kit[SHARED_STAGE] = TargetResult(target=SHARED_STAGE, ref="")
            results.extend(kit.values())
            with _saying_why(kit, inputs, previous):
                buildkit.bake(
                    root=root,
                    dockerfile=render_dockerfile(recipe, cache_mounts=True),
                    targets=[
                        buildkit.BakeTarget(target=t, ref=plan.image(t), labels=own_labels(t))
                        for t in names
                    ],
                    build_args=proxy_build_args(environ),
                    no_cache=no_cache,
                    environ=environ,
                    progress=progress,
                    results=kit,
                    new_step=StepRecord,
                    diagnose=functools.partial(step_failure, release=release, advice=advice),
                    engine=engine,
                )
        elif len(built) > 1:
            # The shared stage first, once: both images then stand on the same layers (and a
            # --no-cache build makes them anew, so nothing below can come from an old cache).
            job(SHARED_STAGE, no_cache, engine)
            build_side_by_side(engine, [functools.partial(job, t, False) for t in built])
        elif built:
            job(built[0], no_cache, engine)
    except BuildError as exc:
        raise FailedBuild(exc, summary(error=exc.message)) from exc
    finally:
        tidy_up(engine, plan, results, log)
    result = summary()
    if push:
        pushed = registry.publish(plan, engine, tags, log)
        result = dataclasses.replace(result, pushed=tuple(pushed))
    return result


def _inputs(recipe: Recipe, dockerfile: str, context: list[str], base_id: str) -> ImageInputs:
    root = recipe.plan.project_dir
    files = copied_files(root, copy_sources(dockerfile), context)
    return image_inputs(recipe, dockerfile, files, lock=lock_bytes(recipe.plan), base_id=base_id)


def _previous(engine: Engine, ref: str) -> tuple[bool, ImageInputs | None]:
    """Whether ``ref`` is on the engine, and the step records its label holds."""
    info = engine.inspect_image(ref)
    if info is None:
        return False, None
    labels = (info.get("Config") or {}).get("Labels") or {}
    return True, ImageInputs.from_label(labels.get(LABEL_STEPS))


@contextlib.contextmanager
def _saying_why(
    kit: Mapping[str, TargetResult],
    inputs: Mapping[str, ImageInputs],
    previous: Mapping[str, tuple[bool, ImageInputs | None]],
) -> Iterator[None]:
    """After a BuildKit build (a failed one too), why its steps re-ran, numbered as the image's
    records number them: the shared stage's under its own name, each image's own after them."""
    try:
        yield
    finally:
        shared = sorted(kit[SHARED_STAGE].steps, key=lambda s: s.number)
        below = len(inputs[SHARED_STAGE].steps)
        for target, result in kit.items():
            own = [] if target == SHARED_STAGE else sorted(result.steps, key=lambda s: s.number)
            lined = why.buildkit_steps(inputs[target], [*shared, *own])
            if lined is None:
                continue
            had, old = _previous_of(previous, target, len(inputs[target].steps))
            found = reasons(old, inputs[target], lined, had_image=had)
            if target != SHARED_STAGE:  # the shared stage's steps are said once, under its name
                found = tuple(r for r in found if r.number is None or r.number > below)
            result.reasons = found


def _previous_of(
    previous: Mapping[str, tuple[bool, ImageInputs | None]], target: str, count: int
) -> tuple[bool, ImageInputs | None]:
    """A target's previous records; for the shared stage, the first ``count`` records of an
    image that stands on it."""
    if target in previous:
        return previous[target]
    for had, old in previous.values():
        if old is not None:
            return had, old.prefix(count)
    return any(had for had, _ in previous.values()), None


PARTIAL_TAG = "partial"


def tidy_up(
    engine: Engine, plan: Plan, results: list[TargetResult], log: Callable[[str], None]
) -> None:
    """Leave no untagged images behind, and keep what a failed build got done: its last
    finished step is tagged NAME:partial (the retry resumes from it), the partial of a target
    that built is dropped, and then every dangling image of this project goes (shared stage
    ends, images their rebuild replaced)."""
    try:
        for result in results:
            if not result.ref:
                continue
            partial = f"{result.ref.rsplit(':', 1)[0]}:{PARTIAL_TAG}"
            before = engine.inspect_image(partial)
            if result.finished:
                engine.remove_image(partial)
            elif result.last_layer and engine.tag_image(result.last_layer, partial):
                log(f"kept the failed build's last finished step as {partial} (a retry resumes)")
                if before is not None:  # untagged now: the older partial, unless this one's parent
                    with contextlib.suppress(EngineError):
                        engine.remove_image(str(before["Id"]))
        removed = engine.prune_dangling(f"{LABEL_PROJECT}={plan.environment.name}")
        if removed:
            log(f"removed {removed} untagged image(s) the build left")
    except EngineError as exc:  # tidying never turns a build's result into a failure
        log(f"devenv: note: could not tidy up images: {exc.message}")


class _OneAtATime(Progress):
    """A Progress that two builds can report to at once."""

    def __init__(self, inner: Progress) -> None:
        self.inner = inner
        self.lock = threading.Lock()

    def step(self, record: StepRecord) -> None:
        with self.lock:
            self.inner.step(record)

    def output(self, record: StepRecord, line: str) -> None:
        with self.lock:
            self.inner.output(record, line)

    def cached(self, record: StepRecord) -> None:
        with self.lock:
            self.inner.cached(record)

    def done(self, result: TargetResult) -> None:
        with self.lock:
            self.inner.done(result)


def build_side_by_side(engine: Engine, jobs: list[Callable[[Engine], None]]) -> None:
    """Run each job with its own engine connection, at once; wait for all, then raise the
    first error. An interrupt closes the connections, which cancels the builds on the engine."""
    connections = [engine.clone() for _ in jobs]
    try:
        pairs = zip(jobs, connections, strict=True)
        side_by_side([functools.partial(job, conn) for job, conn in pairs], name="build")
    finally:
        for connection in connections:
            connection.close()


def _summary(results: list[TargetResult], started: float, error: str | None = None) -> BuildSummary:
    images = [r for r in results if r.ref]  # not the shared stage: it is no image of ours
    done = [r for r in images if r.image_id] if error else images
    steps = [s for r in results for s in r.steps]
    return BuildSummary(
        images={r.target: r.ref for r in done},
        image_ids={r.target: r.image_id for r in done},
        steps_total=len(steps),
        steps_cached=sum(s.cached for s in steps),
        steps_run=sum(s.ran for s in steps),
        seconds=time.monotonic() - started,
        targets=tuple(results),
        error=error,
    )
