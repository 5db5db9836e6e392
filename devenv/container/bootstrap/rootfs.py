"""The apt sources and settings a bootstrapped root filesystem gets, so that it is what a user
who can pull the official image would get.

debootstrap leaves one source line (``deb MIRROR SUITE main``) and apt's defaults, which keep
every downloaded ``.deb`` and the binary caches in each layer. The official images list the
release's full set of components and suites and configure apt for containers; this module
writes the same, in our own words, from the mirror debootstrap used (so no archive host is
named here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from devenv.container.bootstrap.apt_sources import AptSource, host_apt_sources

#: Components and extra suites by distro, as the official images list them.
COMPONENTS = {
    "ubuntu": ("main", "restricted", "universe", "multiverse"),
    "debian": ("main",),
}
SUITES = {
    "ubuntu": ("", "-updates", "-backports"),
    "debian": ("", "-updates"),
}
KEYRINGS = {
    "ubuntu": "/usr/share/keyrings/ubuntu-archive-keyring.gpg",
    "debian": "/usr/share/keyrings/debian-archive-keyring.gpg",
}

_CLEAN = (
    '"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
    '/var/cache/apt/*.bin || true"'
)

#: (path in the rootfs, mode, content). The apt.conf.d names are the official images', so a
#: Dockerfile written for those (which removes docker-clean to keep a cache) works here too.
APT_SETTINGS: tuple[tuple[str, int, str], ...] = (
    (
        "etc/apt/apt.conf.d/docker-clean",
        0o644,
        "// devenv base: no downloaded .deb files or binary caches stay in image layers.\n"
        f"DPkg::Post-Invoke {{ {_CLEAN}; }};\n"
        f"APT::Update::Post-Invoke {{ {_CLEAN}; }};\n"
        'Dir::Cache::pkgcache "";\n'
        'Dir::Cache::srcpkgcache "";\n',
    ),
    (
        "etc/apt/apt.conf.d/docker-no-languages",
        0o644,
        '// devenv base: no translations of package descriptions.\nAcquire::Languages "none";\n',
    ),
    (
        "etc/apt/apt.conf.d/docker-gzip-indexes",
        0o644,
        '// devenv base: package lists stay compressed on disk.\nAcquire::GzipIndexes "true";\n',
    ),
    (
        "etc/apt/apt.conf.d/docker-autoremove-suggests",
        0o644,
        "// devenv base: autoremove may remove what is only suggested.\n"
        'Apt::AutoRemove::SuggestsImportant "false";\n',
    ),
    (
        "etc/dpkg/dpkg.cfg.d/docker-apt-speedup",
        0o644,
        "# devenv base: a build container is thrown away on failure, so dpkg need not fsync.\n"
        "force-unsafe-io\n",
    ),
    (
        # Services never start inside an image build (postgresql's postinst would).
        "usr/sbin/policy-rc.d",
        0o755,
        "#!/bin/sh\n# devenv base: no service starts during package installs in a container.\n"
        "exit 101\n",
    ),
)

#: Ubuntu's official image is minimized: dpkg skips manuals, docs and translations.
UBUNTU_EXCLUDES = (
    "etc/dpkg/dpkg.cfg.d/excludes",
    0o644,
    "# devenv base: like Ubuntu's official image, no manuals, docs or translations.\n"
    "path-exclude=/usr/share/man/*\n"
    "path-exclude=/usr/share/doc/*\n"
    "path-include=/usr/share/doc/*/copyright\n"
    "path-exclude=/usr/share/info/*\n"
    "path-exclude=/usr/share/lintian/*\n"
    "path-exclude=/usr/share/locale/*/LC_MESSAGES/*.mo\n",
)

_DEB_LINE = re.compile(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)")


@dataclass(frozen=True, kw_only=True)
class Sources:
    """The archive and security URIs a base lists."""

    distro: str
    codename: str
    mirror: str
    security: str

    @property
    def suites(self) -> tuple[str, ...]:
        return tuple(self.codename + s for s in SUITES[self.distro])

    def deb822(self) -> str:
        components = " ".join(COMPONENTS[self.distro])
        suites = " ".join(self.suites)
        keyring = KEYRINGS[self.distro]

        def paragraph(uri: str, suite_list: str) -> str:
            return (
                f"Types: deb\nURIs: {uri}\nSuites: {suite_list}\n"
                f"Components: {components}\nSigned-By: {keyring}\n"
            )

        return (
            "# devenv base: the release, its updates and security fixes, as the official "
            "image lists them.\n"
            + paragraph(self.mirror, suites)
            + "\n"
            + paragraph(self.security, f"{self.codename}-security")
        )

    @property
    def file(self) -> str:
        return f"etc/apt/sources.list.d/{self.distro}.sources"


def debootstrap_mirror(rootfs: Path) -> str | None:
    """The archive debootstrap wrote into the rootfs's sources.list (the one it used)."""
    try:
        text = (rootfs / "etc" / "apt" / "sources.list").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        match = _DEB_LINE.match(line)
        if match:
            return match.group(1).rstrip("/")
    return None


def _host_security(distro: str, sources: tuple[AptSource, ...]) -> str | None:
    for source in sources:
        path = PurePosixPath(source.uri.split("://", 1)[-1]).as_posix().rstrip("/")
        if path.endswith(f"/{distro}-security") and any(
            s.endswith("-security") for s in source.suites
        ):
            return source.uri.rstrip("/")
    return None


def security_uri(distro: str, mirror: str, host_sources: tuple[AptSource, ...] = ()) -> str:
    """Where the release's -security suite is. Ubuntu's archive carries it; Debian keeps it in
    a sibling archive, ``…/debian-security``: the host's own entry for it if it has one, else
    the mirror's sibling (the layout Debian's mirrors use)."""
    if distro == "ubuntu":
        return mirror
    return _host_security(distro, host_sources) or mirror.rstrip("/") + "-security"


def sources_for(
    distro: str, codename: str, mirror: str, host_sources: tuple[AptSource, ...] | None = None
) -> Sources:
    found = host_apt_sources() if host_sources is None else host_sources
    return Sources(
        distro=distro,
        codename=codename,
        mirror=mirror.rstrip("/"),
        security=security_uri(distro, mirror, found),
    )


def files_for(sources: Sources) -> tuple[tuple[str, int, str], ...]:
    """Every file the base gets, sources first."""
    extra = (UBUNTU_EXCLUDES,) if sources.distro == "ubuntu" else ()
    sources_list = (
        "etc/apt/sources.list",
        0o644,
        f"# devenv base: see /{sources.file}\n",
    )
    return ((sources.file, 0o644, sources.deb822()), sources_list, *APT_SETTINGS, *extra)
