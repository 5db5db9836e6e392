"""How each installer puts the requirements into a venv: one description per installer, read by
the step compiler and by `devenv lock` (pipx's backends are the model), so no other module asks
which installer the plan names."""

from __future__ import annotations

from dataclasses import dataclass

from devenv.plan.schema import Installer

# What the bootstrap step installs with the venv's own pip. pip upgrades itself and the
# classic build tools; uv needs only itself: the venv keeps the pip its Python ships (for
# `pip check` and the user): that skips the upgrade, about 6 s of the bootstrap's 14 s in a
# cold build here.
PIP_TOOLS = ("pip", "setuptools", "wheel")
UV_TOOLS = ("uv",)


@dataclass(frozen=True, kw_only=True)
class InstallerSpec:
    name: Installer
    tools: tuple[str, ...]  # what the bootstrap step installs (and `devenv lock` pins)

    def install(
        self, venv: str, requirement_args: tuple[str, ...], *, in_image: bool
    ) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        """(argv, env) installing `requirement_args` (`-r FILE` pairs, `--require-hashes`)
        into `venv`. Images keep no installer cache."""
        python = f"{venv}/bin/python"  # see steps.model.python_path
        if self.name is Installer.UV:
            # uv reads the system trust store only when told to (TLS-intercepting proxies). The
            # image's ENV names the bundle in SSL_CERT_FILE, which every uv honours; newer ones
            # warn that UV_NATIVE_TLS (which the host still needs) is deprecated.
            env: tuple[tuple[str, str], ...] = (
                (("UV_NO_CACHE", "1"),) if in_image else (("UV_NATIVE_TLS", "1"),)
            )
            return (f"{venv}/bin/uv", "pip", "install", "--python", python, *requirement_args), env
        no_cache = ("--no-cache-dir",) if in_image else ()
        return (python, "-m", "pip", "install", *no_cache, *requirement_args), ()


INSTALLERS = {
    Installer.PIP: InstallerSpec(name=Installer.PIP, tools=PIP_TOOLS),
    Installer.UV: InstallerSpec(name=Installer.UV, tools=UV_TOOLS),
}


def installer(name: Installer | str) -> InstallerSpec:
    return INSTALLERS[Installer(name)]
