"""Which engine the commands talk to: DOCKER_HOST, else the docker CLI's current context.

docker-py reads only DOCKER_HOST/DOCKER_TLS_VERIFY/DOCKER_CERT_PATH; the docker CLI (and so
Compose and the Dev Containers CLI) also follows contexts. The CLI resolves the context once
(:func:`export_context`) and puts its endpoint into those variables, so docker-py,
testcontainers and every subprocess agree on one engine. The rules are the CLI's: DOCKER_HOST
wins, then DOCKER_CONTEXT, then ``currentContext`` in ``$DOCKER_CONFIG/config.json``; a
context's endpoint is in ``contexts/meta/<sha256 of its name>/meta.json`` and its TLS files in
``contexts/tls/<sha256 of its name>/docker/``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from devenv.errors import EngineError

DEFAULT_HOST = "unix:///var/run/docker.sock"
_CONTEXT_HINT = "list the contexts with `docker context ls`; `docker context use default` resets"


@dataclass(frozen=True, kw_only=True)
class EngineTarget:
    host: str  # unix://…, tcp://…, ssh://…
    source: str  # "DOCKER_HOST", "context NAME" or "default"
    tls_verify: bool = False
    cert_path: str | None = None

    @property
    def scheme(self) -> str:
        return urlsplit(self.host).scheme

    @property
    def on_this_machine(self) -> bool:
        """The engine sees this machine's files (a bind mount of the project works): a unix
        socket, or TCP/SSH to a loopback address."""
        if self.scheme in ("unix", "npipe", "http+unix", "fd"):
            return True
        hostname = urlsplit(self.host).hostname or ""
        if hostname == "localhost":
            return True
        try:
            return ipaddress.ip_address(hostname).is_loopback
        except ValueError:
            return False

    def env(self) -> dict[str, str]:
        """The docker-py variables that reach this engine."""
        out = {"DOCKER_HOST": self.host}
        if self.cert_path:
            out["DOCKER_CERT_PATH"] = self.cert_path
        if self.tls_verify:
            out["DOCKER_TLS_VERIFY"] = "1"
        return out


def config_dir(env: Mapping[str, str]) -> Path:
    """The docker CLI's configuration folder (DOCKER_CONFIG, else ~/.docker)."""
    configured = env.get("DOCKER_CONFIG", "").strip()
    return Path(configured) if configured else Path(env.get("HOME") or Path.home()) / ".docker"


def _context_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def current_context(env: Mapping[str, str]) -> str | None:
    """The context name the docker CLI would use, or None for the default endpoint."""
    if env.get("DOCKER_HOST", "").strip():
        return None
    name = env.get("DOCKER_CONTEXT", "").strip()
    if not name:
        path = config_dir(env) / "config.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise EngineError(
                f"cannot read the docker CLI configuration {path}: {exc}",
                hint="fix or remove the file (DOCKER_CONFIG chooses another folder)",
            ) from None
        name = str(data.get("currentContext") or "") if isinstance(data, dict) else ""
    return None if name in ("", "default") else name


def resolve(env: Mapping[str, str]) -> EngineTarget:
    """The engine the docker CLI would talk to, from ``env``."""
    host = env.get("DOCKER_HOST", "").strip()
    if host:
        return EngineTarget(
            host=host,
            source="DOCKER_HOST",
            tls_verify=env.get("DOCKER_TLS_VERIFY", "") not in ("", "0"),
            cert_path=env.get("DOCKER_CERT_PATH") or None,
        )
    name = current_context(env)
    if name is None:
        return EngineTarget(host=DEFAULT_HOST, source="default")
    root = config_dir(env) / "contexts"
    meta = root / "meta" / _context_id(name) / "meta.json"
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        endpoint = data["Endpoints"]["docker"]
        context_host = str(endpoint["Host"])
    except FileNotFoundError:
        raise EngineError(
            f"the docker context {name!r} does not exist (no {meta})", hint=_CONTEXT_HINT
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineError(
            f"the docker context {name!r} is unreadable ({meta}: {exc})", hint=_CONTEXT_HINT
        ) from None
    tls = root / "tls" / _context_id(name) / "docker"
    has_tls = (tls / "ca.pem").is_file() or (tls / "cert.pem").is_file()
    return EngineTarget(
        host=context_host,
        source=f"context {name}",
        tls_verify=has_tls and not endpoint.get("SkipTLSVerify", False),
        cert_path=str(tls) if has_tls else None,
    )


def export_context(env: MutableMapping[str, str] | None = None) -> EngineTarget:
    """Resolve the engine once and, when a docker context chose it, put its endpoint into
    ``env`` (os.environ by default) for docker-py, testcontainers and subprocesses."""
    environ: MutableMapping[str, str] = os.environ if env is None else env
    target = resolve(environ)
    if target.source.startswith("context "):
        environ.update(target.env())
    return target
