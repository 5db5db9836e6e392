"""The build stream read into results: which image failed, and apt's missing packages."""

from __future__ import annotations

from typing import Any

import pytest

from devenv.container.build import Progress, TargetResult, read_stream
from devenv.container.stages import stage_dockerfile
from devenv.errors import BuildError


def stream(*lines: str, error: str | None = None) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"stream": line + "\n"} for line in lines]
    if error:
        messages.append({"errorDetail": {"message": error}, "error": error})
    return messages


HEAD = (
    "Step 1/9 : FROM ubuntu:24.04 AS base",
    " ---> e4a98d3c40e8",
    "Step 2/9 : RUN apt-get update",
    " ---> Using cache",
    "Step 3/9 : FROM base AS db",
    "Step 4/9 : RUN apt-get install -y postgresql-16 postgresql-16-pgvector",
    " ---> Running in 0123",
)


def failure(messages: list[dict[str, Any]], target: str = "dev") -> BuildError:
    result = TargetResult(target=target, ref=f"devenv/x-{target}:latest")
    with pytest.raises(BuildError) as caught:
        read_stream(target, messages, Progress(), result)
    return caught.value


def test_a_db_stage_failure_during_the_dev_build_names_the_db_image() -> None:
    error = failure(stream(*HEAD, "boom", error="The command returned a non-zero code: 1"))
    assert error.message.startswith("building the db image (its stage runs while building dev)")
    assert "step 4/9" in error.message


def test_a_failure_in_the_target_itself_names_it() -> None:
    error = failure(
        stream(*HEAD[:2], "Step 5/9 : FROM base AS dev", "Step 6/9 : RUN false", error="code: 1")
    )
    assert error.message.startswith("building the dev image failed at step 6/9 (RUN false)")


def test_the_shared_stage_is_named_as_shared() -> None:
    error = failure(stream(*HEAD[:4], "Step 3/9 : RUN false", error="code: 1"), target="db")
    assert "the base stage (shared by the dev and db images, while building db)" in error.message


@pytest.mark.parametrize(
    ("apt_says", "package", "hint"),
    [
        ("E: Unable to locate package postgresql-16-pgvector", "postgresql-16-pgvector", "pgdg"),
        ("E: Unable to locate package libfoo-dev", "libfoo-dev", "devenv base --force"),
        ("E: Package 'python3-venv' has no installation candidate", "python3-venv", "universe"),
    ],
)
def test_a_package_apt_cannot_find_is_named_with_where_it_comes_from(
    apt_says: str, package: str, hint: str
) -> None:
    error = failure(stream(*HEAD, "Reading package lists...", apt_says, error="code: 100"))
    assert error.message == (
        "building the db image (its stage runs while building dev) failed: apt cannot find the "
        f"package {package} in the base image's sources"
    )
    assert "\n" not in error.message
    assert error.hint is not None and hint in error.hint
    assert apt_says in error.details


def test_each_image_gets_the_shared_stage_and_its_own() -> None:
    text = (
        "# header\nFROM ubuntu:24.04 AS base\nRUN a\n\nFROM base AS db\nRUN b\n\n"
        "FROM base AS dev\nRUN c\n"
    )
    assert stage_dockerfile(text, "dev") == (
        "# header\nFROM ubuntu:24.04 AS base\nRUN a\n\nFROM base AS dev\nRUN c\n"
    )
    assert stage_dockerfile(text, "db") == (
        "# header\nFROM ubuntu:24.04 AS base\nRUN a\n\nFROM base AS db\nRUN b\n\n"
    )
    assert stage_dockerfile(text, "base") == "# header\nFROM ubuntu:24.04 AS base\nRUN a\n\n"


def test_a_step_without_network_says_so() -> None:
    error = failure(
        stream(
            *HEAD[:2],
            "Step 5/9 : FROM base AS dev",
            "Step 6/9 : RUN /opt/venv/bin/python -m pip install -r r.txt",
            "WARNING: Retrying after connection broken by 'NewConnectionError(\"Failed to "
            "establish a new connection: [Errno -3] Temporary failure in name resolution\")'",
            "ERROR: Could not find a version that satisfies the requirement fastapi",
            error="The command returned a non-zero code: 1",
        )
    )
    assert error.hint is not None and "could not reach the network" in error.hint
    plain = failure(stream(*HEAD[:2], "Step 3/9 : RUN false", error="code: 1"))
    assert plain.hint == "fix the step (or the plan it came from) and build again"
