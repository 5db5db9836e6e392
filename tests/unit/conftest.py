"""Unit tests never reach the package index: the source-build review reads resolutions that uv
really made, recorded in tests/data/resolutions (its cache format, keyed by requirements bytes
and target). A test whose resolution is not recorded gets the offline fallback, with a warning
in pytest's summary. Record missing ones with DEVENV_RECORD_RESOLUTIONS=1 (needs the index),
then review the new files in tests/data/resolutions."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from devenv.review import resolver, source_builds
from devenv.review.resolver import Resolution, Target

DATA = Path(__file__).resolve().parent.parent / "data"
# The host's python3 as the unit tests see it, whatever machine runs them (Debian 12's).
HOST = Target(python="3.11", machine="x86_64", glibc="2.36")


@pytest.fixture(autouse=True)
def recorded_resolutions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVENV_CACHE_DIR", str(DATA))  # resolutions/<key>.json
    if os.environ.get("DEVENV_RECORD_RESOLUTIONS"):
        monkeypatch.delenv("DEVENV_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("DEVENV_OFFLINE", "1")
    monkeypatch.setattr(source_builds, "host_target", lambda: HOST)
    monkeypatch.setattr(source_builds, "resolve", _warn_when_unrecorded)
    source_builds._MEMO.clear()


def _warn_when_unrecorded(
    roots: tuple[Path, ...] | None, inputs: tuple[tuple[str, bytes], ...], target: Target
) -> Resolution:
    try:
        return resolver.resolve(roots, inputs, target)
    except resolver.ResolveError:
        if resolver.cache_dir() == DATA:
            names = ", ".join(name for name, _ in inputs)
            warnings.warn(
                f"no recorded resolution of {names} for {target.label}: the review fell back "
                "to the table (DEVENV_RECORD_RESOLUTIONS=1 records it)",
                stacklevel=2,
            )
        raise
