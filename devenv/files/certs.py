"""Carry the host's extra CA certificates into builds (corporate TLS interception).

Sources: the local CA folder, and bundles named by SSL_CERT_FILE, REQUESTS_CA_BUNDLE and
PIP_CERT. Each certificate is written as its own file named by its digest, so the result is
deterministic and duplicates collapse. Anything holding a private key is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devenv.errors import PlanError
from devenv.fs.atomic import atomic_write

LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
BUNDLE_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT")
# The distro's own bundles: they add only public roots the image already has, plus the
# local CA folder, which is read directly.
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.S)
_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


@dataclass(frozen=True, kw_only=True)
class CertSync:
    sources: tuple[str, ...]
    written: tuple[str, ...]  # file names in the target folder
    removed: tuple[str, ...]


def find_sources(env: Mapping[str, str], local_dir: Path = LOCAL_CA_DIR) -> tuple[Path, ...]:
    found = sorted(local_dir.rglob("*.crt")) if local_dir.is_dir() else []
    for var in BUNDLE_VARIABLES:
        value = env.get(var)
        if value and Path(value).is_file() and value not in SYSTEM_BUNDLES:
            resolved = str(Path(value).resolve())
            if resolved not in SYSTEM_BUNDLES:
                found.append(Path(value))
    return tuple(dict.fromkeys(found))


def read_certificates(sources: tuple[Path, ...]) -> dict[str, str]:
    """Digest-named PEM certificates from the sources; PlanError for any private key."""
    certs: dict[str, str] = {}
    for source in sources:
        text = source.read_text(encoding="utf-8", errors="replace")
        if _KEY.search(text):
            raise PlanError(
                f"{source}: holds a private key; devenv never copies private keys into images",
                hint="keep only the CA certificate (PEM 'BEGIN CERTIFICATE' blocks) in that file",
            )
        for block in _PEM.findall(text):
            pem = block.strip() + "\n"
            certs[f"{hashlib.sha256(pem.encode()).hexdigest()[:16]}.crt"] = pem
    return certs


@dataclass(frozen=True, kw_only=True)
class HostCertificates:
    sources: tuple[Path, ...]
    certs: dict[str, str]  # digest-named file -> PEM


def collect_certificates(
    env: Mapping[str, str] | None = None, local_dir: Path = LOCAL_CA_DIR
) -> HostCertificates:
    """Read (and vet) the host's extra CAs without writing anything: a private key stops
    `generate` before any file is touched."""
    sources = find_sources(os.environ if env is None else env, local_dir)
    return HostCertificates(sources=sources, certs=read_certificates(sources))


def check_folder(target: Path) -> None:
    """Refuse (before anything is written) when a file in the certificates folder holds a
    private key: the README there promises it, whatever the file is called."""
    if not target.is_dir() or target.is_symlink():
        return
    for path in sorted(target.iterdir()):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            raise PlanError(f"{path}: can't read it: {exc.strerror}") from None
        if _KEY.search(text):
            raise PlanError(
                f"{path}: holds a private key; nothing there may enter an image; "
                "nothing was written",
                hint="move the key out of the project; only CA certificates belong there",
            )


def write_certificates(target: Path, host: HostCertificates) -> CertSync:
    """Make `target` hold exactly the host's certificates (unchanged files are not rewritten)."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, pem in sorted(host.certs.items()):
        path = target / name
        if not path.exists() or path.read_text() != pem:
            atomic_write(path, pem)
            written.append(name)
    removed = []
    for old in sorted(target.glob("*.crt")):
        if old.name not in host.certs:
            old.unlink()
            removed.append(old.name)
    return CertSync(
        sources=tuple(map(str, host.sources)), written=tuple(written), removed=tuple(removed)
    )
