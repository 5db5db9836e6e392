"""The locally bootstrapped base image (debootstrap + import) is a usable, clean base."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from devenv.base import LABEL_BOOTSTRAPPED, LABEL_DISTRO, LABEL_SUITE, ensure_base
from devenv.engine import Engine

#: The conftest's run_container fixture: (ref, argv or None) -> (exit code, output).
RunContainer = Callable[[str, Sequence[str] | None], tuple[int, str]]


def test_image_exists_with_labels(engine: Engine, trixie_base: str) -> None:
    assert engine.image_exists(trixie_base)
    labels = engine.image_labels(trixie_base)
    assert labels[LABEL_BOOTSTRAPPED] == "true"
    assert labels[LABEL_DISTRO] == "debian"
    assert labels[LABEL_SUITE] == "trixie"


def test_second_call_does_not_bootstrap(engine: Engine, trixie_base: str) -> None:
    result = ensure_base(
        engine,
        trixie_base,
        "debian",
        "trixie",
        mirror=None,
        keyring=None,
        force=False,
        log=print,
    )
    assert not result.bootstrapped
    assert result.image_id == engine.image_id(trixie_base)


def test_default_command_is_bash(
    engine: Engine, trixie_base: str, run_container: RunContainer
) -> None:
    info = engine.inspect_image(trixie_base)
    assert info is not None
    assert info["Config"]["Cmd"] == ["bash"]
    # Like `docker run --rm debian:trixie`: bash without a tty reads EOF and exits 0.
    assert run_container(trixie_base, None) == (0, "")


def test_it_is_trixie(trixie_base: str, run_container: RunContainer) -> None:
    code, output = run_container(trixie_base, ["cat", "/etc/os-release"])
    assert code == 0
    assert "VERSION_CODENAME=trixie" in output


def test_no_apt_lists_or_caches_left(trixie_base: str, run_container: RunContainer) -> None:
    code, output = run_container(trixie_base, ["find", "/var/lib/apt/lists", "-type", "f"])
    assert code == 0
    assert set(output.split()) <= {"/var/lib/apt/lists/lock"}
    code, output = run_container(
        trixie_base, ["find", "/var/cache/apt", "-maxdepth", "1", "-name", "*.bin"]
    )
    assert (code, output) == (0, "")
