"""The team's registry (`[environment] registry`): prebuilt images under their content tags.

Names: ``REGISTRY/NAME-dev:TAG`` and ``REGISTRY/NAME-db:TAG`` (and ``:latest``), and the
project's base as ``REGISTRY/NAME-base:RELEASE`` (``debian-trixie``: what an engine with no
base pulls, the very image the tags were derived from) and as ``NAME-base:RELEASE-CONTENT``
(its content's digest; never overwritten). The project's name is in each, so two projects in
one namespace never replace each other's base. Every pull and push goes through the engine,
with the credentials docker-py finds for the registry in the user's docker config and
credential helpers (what `docker login` wrote); nothing from the plan or the command line.
TLS is the engine's: it trusts the host's CA certificates (and ``/etc/docker/certs.d``), and
speaks plain HTTP only to registries it is told are insecure (by default loopback ones).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from devenv.container.engine import Engine, context_files
from devenv.container.engine_target import DEFAULT_HOST
from devenv.container.tags import base_identity, plan_tags
from devenv.errors import EngineError
from devenv.files.generate import generate_files
from devenv.plan.model import Plan
from devenv.render.dockerfile import render_dockerfile
from devenv.render.labels import LABEL_CONTENT
from devenv.rules.validate import split_image_ref
from devenv.steps.recipe import compile_plan

Log = Callable[[str], None]
BASE_CONTENT_LENGTH = 16  # hex digits of the base's content in its pinned tag
# What registries (distribution, Podman's client) say for a tag they do not have.
_MISSING = ("manifest unknown", "not found", "name unknown", "no such image")


@dataclass(frozen=True, kw_only=True)
class Fetched:
    """What a registry lookup found: per target the pulled ref, and why the rest missed."""

    hits: dict[str, str] = field(default_factory=dict)  # target -> remote ref it came from
    local: tuple[str, ...] = ()  # targets whose local image already had the tag
    misses: dict[str, str] = field(default_factory=dict)  # target -> one-line reason
    unreachable: bool = False  # a miss came from an error, not from an absent tag


def registry_of(plan: Plan) -> str:
    registry = plan.environment.registry
    if registry is None:
        raise EngineError(
            "the plan names no registry",
            hint='set [environment] registry = "HOST[:PORT]/NAMESPACE" in devenv.toml',
        )
    return registry


def remote_ref(plan: Plan, target: str, tag: str) -> str:
    return f"{registry_of(plan)}/{plan.environment.name}-{target}:{tag}"


def base_ref(plan: Plan, content: str | None = None) -> str:
    """The project's base in the registry: by its release (``debian-trixie``, the one a
    teammate without a base pulls) or, given its content (base_identity), pinned to it."""
    family, tag = split_image_ref(plan.environment.base)
    pinned = f"-{content.removeprefix('sha256:')[:BASE_CONTENT_LENGTH]}" if content else ""
    return f"{registry_of(plan)}/{plan.environment.name}-base:{family}-{tag}{pinned}"


def base_content(engine: Engine, plan: Plan) -> str:
    """The plan's base on the engine by its content (tags.base_identity), as the tags see it."""
    info = engine.inspect_image(plan.environment.base)
    if info is None:
        raise EngineError(
            f"the base image {plan.environment.base} is not on the engine at {engine.where}",
            hint="run `devenv base` to bootstrap it from the distribution's archive",
        )
    return base_identity(info)


def restores_cache_sources(engine: Engine) -> bool:
    """Whether the engine's classic builder can take cached steps from pulled images. Not on
    Docker's containerd image store (Docker 28's default option, 29's fresh-install default):
    it restores a cached step that made no layer (ENV, WORKDIR, USER, ...) by reading a layer
    of empty digest, and the build stops at the first one with `failed to restore cached image
    ... failed to read diff archive: InvalidArgument`, whichever store pushed the images."""
    try:
        status = engine.api.info().get("DriverStatus") or []
    except Exception:  # an engine that does not say is taken at its word: the overlay2 way
        return True
    return not any("io.containerd.snapshotter" in str(value) for _, value in status)


def is_absent(error: str) -> bool:
    lowered = error.lower()
    return any(marker in lowered for marker in _MISSING)


def local_tag(engine: Engine, ref: str) -> str | None:
    info = engine.inspect_image(ref)
    if info is None:
        return None
    labels = (info.get("Config") or {}).get("Labels") or {}
    return labels.get(LABEL_CONTENT)


def fetch(plan: Plan, engine: Engine, tags: Mapping[str, str], log: Log) -> Fetched:
    """Each target's image for its content tag: already on the engine, or pulled from the
    registry and named as the plan names it. Misses are returned, not raised."""
    hits: dict[str, str] = {}
    local: list[str] = []
    misses: dict[str, str] = {}
    unreachable = False
    for target, tag in tags.items():
        if local_tag(engine, plan.image(target)) == tag:
            local.append(target)
            continue
        ref = remote_ref(plan, target, tag)
        log(f"registry: pulling {ref}")
        error = engine.pull_ref(ref)
        if error is None:
            engine.tag_image(engine.image_id(ref), plan.image(target))
            hits[target] = ref
            continue
        absent = is_absent(error)
        unreachable = unreachable or not absent
        misses[target] = (
            f"{ref} is not in the registry" if absent else f"pulling {ref} failed: {error}"
        )
        log(f"registry: {misses[target]}")
    return Fetched(hits=hits, local=tuple(local), misses=misses, unreachable=unreachable)


def cache_sources(plan: Plan, engine: Engine, fetched: Fetched, log: Log) -> dict[str, list[str]]:
    """The build's cache sources per missed target: the registry's latest image of each target
    the engine has nothing of (the classic builder ignores its local cache once given cache
    sources, so only then), pulled first; none where the engine cannot restore from them."""
    missed = [t for t in fetched.misses if not engine.image_exists(plan.image(t))]
    if missed and not restores_cache_sources(engine):
        log(
            "registry: the engine's containerd image store cannot take cached steps from the "
            "registry's images (its classic builder fails on steps without a layer); building "
            "without them"
        )
        return {}
    sources: dict[str, list[str]] = {}
    for target in missed:
        latest = remote_ref(plan, target, "latest")
        if engine.pull_ref(latest) is None:
            sources[target] = [latest]
    return sources


def publish(plan: Plan, engine: Engine, tags: Mapping[str, str], log: Log) -> list[str]:
    """Push each target's image under its content tag and ``latest``, and the base. The local
    images must be the ones the tags describe (built by this devenv from these inputs)."""
    pushed: list[str] = []
    for target, tag in tags.items():
        have = local_tag(engine, plan.image(target))
        if have != tag:
            why = "is missing" if not engine.image_exists(plan.image(target)) else "is stale"
            raise EngineError(
                f"{plan.image(target)} {why}: its inputs now give the tag {tag}",
                hint="build it first: `devenv build` (or `devenv build --push`)",
            )
    base = plan.environment.base
    image_refs = [(base, base_ref(plan, base_content(engine, plan))), (base, base_ref(plan))]
    for target, tag in tags.items():
        for ref in _refs(plan, target, tag):
            image_refs.append((plan.image(target), ref))
    for source, ref in image_refs:
        engine.tag_image(engine.image_id(source), ref)
        log(f"registry: pushing {ref}")
        digest = engine.push_ref(ref)
        pushed.append(f"{ref}@{digest}" if digest else ref)
    return pushed


def _refs(plan: Plan, target: str, tag: str) -> tuple[str, str]:
    return remote_ref(plan, target, tag), remote_ref(plan, target, "latest")


def ensure_base(plan: Plan, engine: Engine, log: Log) -> str | None:
    """With a registry and no base on the engine, pull the team's base (the image the tags
    were made from) and name it as the plan does. Returns how it came, None if it did not."""
    base = plan.environment.base
    if plan.environment.registry is None or engine.image_exists(base):
        return None
    ref = base_ref(plan)
    log(f"registry: {base} is not on the engine at {engine.where}; pulling the team's {ref}")
    error = engine.pull_ref(ref)
    if error is not None:
        log(f"registry: no base from the registry ({error})")
        return None
    engine.tag_image(engine.image_id(ref), base)
    return f"pulled from {ref}"


def copy_base_from_local(
    plan: Plan, engine: Engine, log: Log, *, local_env: Mapping[str, str]
) -> str | None:
    """An engine elsewhere (DOCKER_HOST, a context, Podman) without the base, while this
    machine's own engine has it: copy it over (save | load through the API; the id stays)."""
    base = plan.environment.base
    if engine.image_exists(base):
        return None
    try:
        local = Engine.connect(local_env)
    except EngineError:
        return None
    with local:
        if local.where == engine.where or not local.image_exists(base):
            return None
        log(
            f"{base} is not on the engine at {engine.where}: copying it from the engine at "
            f"{local.where} (docker save | docker load)"
        )
        local.copy_image_to(base, engine)
    return f"copied from {local.where}"


def pulled_summary(fetched: Fetched, targets: Iterable[str]) -> list[str]:
    lines = []
    for target in targets:
        if target in fetched.local:
            lines.append(f"{target}: current on the engine")
        elif target in fetched.hits:
            lines.append(f"{target}: pulled {fetched.hits[target]}")
        elif target in fetched.misses:
            lines.append(f"{target}: {fetched.misses[target]}")
    return lines


def current_tags(plan: Plan, engine: Engine, targets: Iterable[str], log: Log) -> dict[str, str]:
    """The content tags of the plan's images now: files generated from the plan (hand edits
    refused, as in build), and the base on the engine (from the team's registry when
    missing), since its content is one of the inputs."""
    recipe = compile_plan(plan)
    for line in generate_files(plan, check=False, force=False, recipe=recipe).lines(
        changed_only=True
    ):
        log(line)
    ensure_base(plan, engine, log)
    if not engine.image_exists(plan.environment.base):
        raise EngineError(
            f"the base image {plan.environment.base} is neither on the engine at "
            f"{engine.where} nor in the registry as {base_ref(plan)}",
            hint="CI pushes it with the images (`devenv build --push`); or run `devenv base`",
        )
    root = plan.project_dir
    return plan_tags(
        recipe,
        dockerfile=render_dockerfile(recipe),  # as build_images hashes it
        context=context_files(root),
        base=base_content(engine, plan),
        targets=targets,
    )


def base_from_elsewhere(plan: Plan, engine: Engine, log: Log) -> str | None:
    """A missing base from the team's registry (the image the tags were made from), else
    from this machine's own engine when devenv talks to another one. None: neither had it."""
    local_env = {"DOCKER_HOST": DEFAULT_HOST}  # the socket this machine's engine listens on
    return ensure_base(plan, engine, log) or copy_base_from_local(
        plan, engine, log, local_env=local_env
    )
