"""The bootstrapped root filesystem made an image: apt sources and settings written in, apt's
caches and lists dropped, ``tar -c`` streamed into the engine's import (or, when debootstrap's
second stage must run in a container, committed from one)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from devenv.container.bootstrap.process import RUN_TIMEOUT, BootstrapError, Log, run_logged, stop
from devenv.container.bootstrap.rootfs import Sources, files_for
from devenv.container.engine import Engine
from devenv.errors import EngineError
from devenv.render.labels import LABEL_BOOTSTRAPPED

#: What a base keeps none of, as the official images: (folder, `find` tests) of files to
#: delete — the apt lists (~90 MB, stale by the time the image is used), apt's binary caches and
#: the .deb files debootstrap downloaded. Images run `apt-get update` before installing.
STRIPPED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("var/lib/apt/lists", ("-mindepth", "1", "-type", "f", "!", "-name", "lock")),
    ("var/cache/apt", ("-maxdepth", "1", "-type", "f", "-name", "*.bin")),
    ("var/cache/apt/archives", ("-type", "f", "-name", "*.deb")),
)

#: Run in the first stage's image: configure the packages, then drop what STRIPPED names. A
#: fixed script, no value of the plan's in it.
SECOND_STAGE = " && ".join(
    [
        "/debootstrap/debootstrap --second-stage",
        *(shlex.join(["find", f"/{folder}", *tests, "-delete"]) for folder, tests in STRIPPED),
    ]
)


def second_stage_in_container(
    engine: Engine,
    rootfs: Path,
    ref: str,
    labels: dict[str, str],
    prefix: list[str],
    log: Log,
) -> str:
    """Import the first stage, run the second in a container of it, commit that as ``ref``."""
    stage = f"devenv-bootstrap/{ref.replace(':', '-').replace('/', '-')}:first-stage"
    import_rootfs(engine, rootfs, stage, {LABEL_BOOTSTRAPPED: "first-stage"}, prefix, log)
    log(f"+ (in a container of {stage}) {SECOND_STAGE}")
    try:
        return engine.commit_run(
            stage, ["sh", "-c", SECOND_STAGE], ref, labels=labels, log=log, timeout=RUN_TIMEOUT
        )
    except EngineError as exc:
        raise BootstrapError(
            f"debootstrap's second stage for {ref} failed: {exc.message}",
            hint="see its output above",
        ) from exc
    finally:
        try:
            engine.remove_image(stage)
        except EngineError as exc:
            log(f"could not remove {stage}: {exc.message}")


def configure_rootfs(
    rootfs: Path, staging: Path, sources: Sources, prefix: list[str], log: Log
) -> None:
    """Write the official images' apt sources and settings into the (root-owned) rootfs."""
    staging.mkdir(parents=True)
    for index, (relative, mode, content) in enumerate(files_for(sources)):
        staged = staging / str(index)
        staged.write_text(content, encoding="utf-8")
        target = rootfs / relative
        argv = [*prefix, "install", "-D", "-m", f"{mode:o}", str(staged), str(target)]
        if run_logged(argv, log) != 0:
            raise BootstrapError(
                f"could not write {relative} into the bootstrapped root filesystem",
                hint="see the install error above",
            )
    log(
        f"apt sources: {sources.mirror} {' '.join(sources.suites)} and "
        f"{sources.security} {sources.codename}-security"
    )
    # The host's resolver settings are not the image's: the engine provides them at run time.
    run_logged([*prefix, "rm", "-f", str(rootfs / "etc" / "resolv.conf")], log)


def strip_rootfs(rootfs: Path, prefix: list[str], log: Log) -> None:
    """Delete what STRIPPED names from the (root-owned) rootfs."""
    for folder, tests in STRIPPED:
        if run_logged([*prefix, "find", str(rootfs / folder), *tests, "-delete"], log) != 0:
            raise BootstrapError(
                f"could not clean apt files in the bootstrapped root filesystem {rootfs}",
                hint="see the find error above",
            )


def import_rootfs(
    engine: Engine,
    rootfs: Path,
    ref: str,
    labels: dict[str, str],
    prefix: list[str],
    log: Log,
) -> str:
    """Stream ``tar -c`` of ``rootfs`` into the engine's import (never in memory)."""
    argv = [*prefix, "tar", "--numeric-owner", "-C", str(rootfs), "-c", "."]
    log("+ " + shlex.join(argv) + f" | (import into {engine.where} as {ref})")
    tar = subprocess.Popen(argv, stdout=subprocess.PIPE)
    try:
        if tar.stdout is None:  # pragma: no cover - stdout=PIPE always sets it
            raise BootstrapError("tar has no output pipe")
        with tar.stdout:
            image_id = engine.import_image(tar.stdout, ref, labels=labels)
    except BaseException:
        stop(tar)
        raise
    code = tar.wait()
    if code >= 2 or code < 0:
        # A truncated tar can still import: do not leave a broken base behind.
        try:
            engine.remove_image(ref)
        except EngineError as exc:
            log(f"could not remove the incomplete image {ref}: {exc.message}")
        raise BootstrapError(
            f"tar of the bootstrapped root filesystem {rootfs} failed with exit code {code}",
            hint="see tar's error above; check free space and that debootstrap finished",
        )
    if code == 1:
        log("warning: tar reported files that changed while being read (exit code 1)")
    return image_id
