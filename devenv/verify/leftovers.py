"""Labels on everything `devenv verify` makes, and removing what a killed run left behind.

Every container, network and volume of a run carries dev.devenv.verify=<run id> (its start
time and a random part), dev.devenv.project=<name> and dev.devenv.verify.owner=<host>:<pid>,
so leftovers are found by label and judged by age and owner, never by name.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from devenv.container.engine import engine_errors
from devenv.render.labels import LABEL_PREFIX, LABEL_PROJECT
from devenv.verify.report import describe_exception

RUN_LABEL = f"{LABEL_PREFIX}verify"
PROJECT_LABEL = LABEL_PROJECT
OWNER_LABEL = f"{LABEL_PREFIX}verify.owner"
STALE_SECONDS = 3600  # a verify run older than this is a leftover, wherever it came from

Log = Callable[[str], None]


def new_run_id(now: float | None = None) -> str:
    """'<unix seconds>-<6 hex>': unique, and its age is readable from any label."""
    return f"{int(time.time() if now is None else now)}-{secrets.token_hex(3)}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_leftover(
    labels: Mapping[str, str],
    *,
    host: str,
    now: float,
    alive: Callable[[int], bool] = pid_alive,
    me: int | None = None,
) -> bool:
    """A verify resource is a leftover when its run is older than STALE_SECONDS (no verify
    runs that long), or when its owner process on this host is gone. A resource of another
    host's recent run may be in use: it is kept. Called before this run makes anything, so a
    resource owned by this very process id is a previous process's."""
    started = labels.get(RUN_LABEL, "").partition("-")[0]
    if not started.isdigit() or now - int(started) > STALE_SECONDS:
        return True
    owner_host, _, pid = labels.get(OWNER_LABEL, "").rpartition(":")
    if owner_host != host:
        return False
    me = os.getpid() if me is None else me
    return not pid.isdigit() or int(pid) == me or not alive(int(pid))


def ignorable(exc: BaseException) -> bool:
    """Already gone (404) or already being removed (409)."""
    return getattr(exc, "status_code", None) in (404, 409)


def _list(client: Any, kind: str, labels: list[str]) -> list[Any]:
    filters = {"label": labels}
    if kind == "container":
        return list(client.containers.list(all=True, filters=filters))
    if kind == "network":
        return list(client.networks.list(filters=filters))
    return list(client.volumes.list(filters=filters))


def _labels_of(resource: Any, kind: str) -> dict[str, str]:
    labels = resource.labels if kind == "container" else resource.attrs.get("Labels")
    return {str(k): str(v) for k, v in (labels or {}).items()}


def _remove(resource: Any, kind: str) -> None:
    if kind == "container":
        resource.remove(force=True, v=True)
    elif kind == "network":
        resource.remove()
    else:
        resource.remove(force=True)


def remove_labelled(
    client: Any, labels: list[str], *, keep: Callable[[Mapping[str, str]], bool], log: Log
) -> dict[str, set[str]]:
    """Remove containers, then networks, then volumes matching every label filter in `labels`
    ("key" or "key=value") unless keep(their labels). Returns {kind: {run ids removed}}."""
    removed: dict[str, set[str]] = {"container": set(), "network": set(), "volume": set()}
    for kind in removed:
        try:
            found = _list(client, kind, labels)
        except engine_errors() as exc:  # best effort: the next run sweeps again
            log(f"verify: warning: cannot list {kind}s: {describe_exception(exc)}")
            continue
        for resource in found:
            own = _labels_of(resource, kind)
            if keep(own):
                continue
            try:
                _remove(resource, kind)
            except engine_errors() as exc:
                if not ignorable(exc):
                    log(
                        f"verify: warning: cannot remove {kind} {resource.name}: "
                        f"{describe_exception(exc)}"
                    )
                    continue
            removed[kind].add(own.get(RUN_LABEL, "?"))
    return removed


def remove_leftovers(client: Any, *, host: str, log: Log) -> tuple[str, ...]:
    """Remove what killed verify runs left behind; returns notes for the report."""
    now = time.time()
    removed = remove_labelled(
        client,
        [RUN_LABEL],
        log=log,
        keep=lambda labels: not is_leftover(labels, host=host, now=now),
    )
    runs = sorted({run for ids in removed.values() for run in ids})
    if not runs:
        return ()
    kinds = ", ".join(f"{kind}s" for kind, ids in removed.items() if ids)
    note = f"removed leftovers ({kinds}) of interrupted verify run(s) {', '.join(runs)}"
    log(f"verify: {note}")
    return (note,)
