"""The one module that talks to the Docker engine (docker-py's low-level ``APIClient``).

Importing this module needs neither a running engine nor docker-py: ``docker`` is imported
inside :meth:`Engine.connect`. Every docker-py error that leaves this module is turned into an
:class:`~devenv.errors.EngineError` that says where we looked, why it failed, and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from devenv.errors import EngineError
from devenv.render.labels import LABEL_PURPOSE
from devenv.rules.validate import image_ref

#: Every label devenv puts on an image or container starts with this prefix.

#: Where docker-py (and the docker CLI) look when DOCKER_HOST is unset.
DEFAULT_SOCKET = "/var/run/docker.sock"

#: The default command of imported images: an interactive shell, like the official images.
DEFAULT_CMD: tuple[str, ...] = ("bash",)

START_HINT = (
    "start an engine with 'scripts/engine.sh start', point DOCKER_HOST at a running one, "
    "or install natively without Docker with 'devenv host-install'"
)

#: How long connect() waits for the engine to answer, and the timeout of later requests.
CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 120.0

_CHUNK = 1024 * 1024
_LABEL_KEY = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _where(env: Mapping[str, str]) -> str:
    """Describe where a connection attempt looks, for error messages."""
    host = env.get("DOCKER_HOST", "").strip()
    if host:
        return f"DOCKER_HOST={host}"
    return f"unix://{DEFAULT_SOCKET} (DOCKER_HOST is unset)"


def _socket_path(env: Mapping[str, str]) -> str | None:
    host = env.get("DOCKER_HOST", "").strip()
    if not host:
        return DEFAULT_SOCKET
    for scheme in ("unix://", "http+unix://"):
        if host.startswith(scheme):
            return host[len(scheme) :] or DEFAULT_SOCKET
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """Walk an exception, its causes/contexts and exception-valued args (urllib3 nests OSErrors
    in args, requests in __context__), each once."""
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested: list[object] = [current.__cause__, current.__context__, *current.args]
        nested.append(getattr(current, "reason", None))
        todo.extend(n for n in nested if isinstance(n, BaseException))


def _reason(exc: BaseException, env: Mapping[str, str]) -> str:
    """One short phrase for why a connection attempt failed."""
    socket_path = _socket_path(env)
    for cause in _causes(exc):
        if isinstance(cause, FileNotFoundError) or (
            isinstance(cause, OSError) and cause.errno == errno.ENOENT
        ):
            return f"no socket at {socket_path}" if socket_path else "no such file"
        if isinstance(cause, ConnectionRefusedError):
            if socket_path:
                return f"connection refused on {socket_path} (nothing is listening on it)"
            return "connection refused (nothing is listening there)"
        if isinstance(cause, PermissionError):
            return (
                f"permission denied on {socket_path or 'the engine'}"
                " (run as root or join the 'docker' group)"
            )
        if isinstance(cause, TimeoutError) or type(cause).__name__ in {
            "ConnectTimeout",
            "ReadTimeout",
            "ConnectTimeoutError",
            "ReadTimeoutError",
        }:
            return f"no answer within {CONNECT_TIMEOUT:g}s"
    for cause in _causes(exc):
        status = getattr(cause, "status_code", None)
        if isinstance(status, int):
            return f"something answered with HTTP {status}, but it is not a Docker engine"
    text = str(exc).replace("\n", " ").strip()
    prefix = "Error while fetching server API version: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _one_line(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation) if explanation else str(exc)
    return " ".join(text.split())


def split_ref(ref: str) -> tuple[str, str]:
    """``name[:tag]`` -> (repository, tag); the tag defaults to ``latest``. No digests: the
    grammar is the plan's (validate.image_ref), so both accept the same references."""
    try:
        image_ref(ref)
    except ValueError as exc:
        raise EngineError(
            f"invalid image reference: {exc}", hint="use NAME:TAG, e.g. debian:trixie"
        ) from None
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, "latest"


def _label_change(key: str, value: str) -> str:
    """A ``LABEL`` instruction for ``docker import --change``, quoted for the Dockerfile parser."""
    if not _LABEL_KEY.match(key):
        raise EngineError(
            f"invalid image label key {key!r}",
            hint="use lowercase letters, digits, '.', '-' and '_', e.g. dev.devenv.bootstrapped",
        )
    if _CONTROL.search(value):
        raise EngineError(
            f"image label {key} has a control character or newline in its value {value!r}",
            hint="labels must be single-line text",
        )
    quoted = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'LABEL {key}="{quoted}"'


def _import_changes(
    ref: str, labels: Mapping[str, str], cmd: Sequence[str], changes: Sequence[str]
) -> list[str]:
    """The Dockerfile instructions an import of ``ref`` applies: ``CMD``, a ``LABEL`` per
    label, then ``changes``, each checked to be one line."""
    all_changes = [f"CMD {json.dumps(list(cmd))}"] if cmd else []
    all_changes += [_label_change(k, v) for k, v in sorted(labels.items())]
    for change in changes:
        if _CONTROL.search(change):
            raise EngineError(
                f"image change {change!r} for {ref} has a control character or newline",
                hint="give one Dockerfile instruction per change",
            )
        all_changes.append(change)
    return all_changes


def _docker() -> Any:
    """docker-py, imported on first use. It ships no type information, so it is ``Any`` here;
    importlib also keeps mypy from resolving ``docker`` to a project's generated ``docker/``
    folder (a namespace package that would shadow the untyped library)."""
    docker = importlib.import_module("docker")
    _keep_engine_ca(docker)
    return docker


def prepare_clients() -> None:
    """Import docker-py as devenv uses it, before another library (testcontainers) makes
    clients of its own."""
    _docker()


def _keep_engine_ca(docker: Any) -> None:
    """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (set on many corporate machines)
    replace a session's CA on every request (docker/docker-py#2433), so TLS to an engine with
    its own CA (DOCKER_CERT_PATH, a context's) fails. A docker client that has a CA file of
    its own ignores the environment instead — every one, testcontainers' included — and so
    also proxy variables, which an engine reached over TLS with its own CA rarely wants."""
    client: Any = docker.APIClient
    if getattr(client, "_devenv_keeps_ca", False):
        return

    def get(self: Any) -> bool:
        return not isinstance(getattr(self, "verify", None), str)

    def set_(self: Any, value: bool) -> None:
        pass  # requests.Session.__init__ sets True; the getter decides

    client.trust_env = property(get, set_)
    client._devenv_keeps_ca = True


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return
        yield chunk


class Engine:
    """A connected Docker engine. Build it with :meth:`connect`; ``api`` is the raw
    ``docker.APIClient`` for code in this module that needs more than the helpers below."""

    def __init__(self, api: Any, where: str, env: Mapping[str, str] | None = None) -> None:
        self.api: Any = api
        self.where = where
        self._env = None if env is None else dict(env)

    def clone(self) -> Engine:
        """Another connection to the same engine, for work in another thread."""
        return Engine.connect(self._env)

    # -- connection --------------------------------------------------------------------------

    @classmethod
    def connect(cls, env: Mapping[str, str] | None = None) -> Engine:
        """Connect as the docker CLI would (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, else
        the default unix socket) and ping. Raises EngineError if nothing usable answers."""
        environ: Mapping[str, str] = os.environ if env is None else env
        where = _where(environ)
        try:
            docker = _docker()
        except ImportError as exc:  # pragma: no cover - docker is a hard dependency
            raise EngineError(
                f"cannot talk to a Docker engine: the Python package 'docker' is missing ({exc})",
                hint="pip install 'docker>=7.1'",
            ) from exc
        try:
            kwargs = docker.utils.kwargs_from_env(environment=dict(environ))
        except docker.errors.DockerException as exc:
            raise EngineError(
                f"cannot use the Docker TLS settings for {where}: {_one_line(exc)}",
                hint="fix DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, or unset them",
            ) from exc
        if str(kwargs.get("base_url", "")).startswith("ssh://"):
            # Through the ssh binary, as the docker CLI does (~/.ssh/config, agents, jump hosts).
            kwargs["use_ssh_client"] = True
        try:
            # version=None asks the engine for its API version, so this already connects.
            api = docker.APIClient(version=None, timeout=CONNECT_TIMEOUT, **kwargs)
        except docker.errors.DockerException as exc:
            text = str(exc)
            if "Invalid bind address" in text or "Invalid port" in text or "paramiko" in text:
                raise EngineError(
                    f"bad DOCKER_HOST {environ.get('DOCKER_HOST', '')!r}: {_one_line(exc)}",
                    hint="use unix:///path/to/docker.sock or tcp://HOST:PORT, or unset it",
                ) from exc
            raise EngineError(
                f"cannot reach a Docker engine at {where}: {_reason(exc, environ)}",
                hint=START_HINT,
            ) from exc
        try:
            api.ping()
        except Exception as exc:
            api.close()
            raise EngineError(
                f"the Docker engine at {where} does not answer ping: {_reason(exc, environ)}",
                hint=START_HINT,
            ) from exc
        api.timeout = REQUEST_TIMEOUT
        return cls(api, where, environ)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _failed(self, what: str, exc: BaseException, hint: str | None = None) -> EngineError:
        return EngineError(
            f"{what} failed on the Docker engine at {self.where}: {_one_line(exc)}",
            hint=hint,
        )

    # -- images ------------------------------------------------------------------------------

    def inspect_image(self, ref: str) -> dict[str, Any] | None:
        """The engine's inspect document for ``ref``, or None if there is no such image."""
        docker = _docker()

        try:
            result: dict[str, Any] = self.api.inspect_image(ref)
        except docker.errors.NotFound:
            return None
        except (docker.errors.DockerException, OSError) as exc:
            raise self._failed(f"inspecting image {ref}", exc) from exc
        return result

    def image_exists(self, ref: str) -> bool:
        return self.inspect_image(ref) is not None

    def image_id(self, ref: str) -> str:
        info = self.inspect_image(ref)
        if info is None:
            raise EngineError(
                f"image {ref} not found on the Docker engine at {self.where}",
                hint="create it first, e.g. 'devenv base'",
            )
        return str(info["Id"])

    def image_labels(self, ref: str) -> dict[str, str]:
        """All labels of image ``ref`` (empty if it has none). Raises if the image is missing."""
        info = self.inspect_image(ref)
        if info is None:
            raise EngineError(
                f"image {ref} not found on the Docker engine at {self.where}",
                hint="create it first, e.g. 'devenv base'",
            )
        labels = (info.get("Config") or {}).get("Labels") or {}
        return {str(k): str(v) for k, v in labels.items()}

    def import_image(
        self,
        src: IO[bytes] | str | os.PathLike[str],
        ref: str,
        *,
        labels: Mapping[str, str],
        cmd: Sequence[str] = DEFAULT_CMD,
        changes: Sequence[str] = (),
    ) -> str:
        """``docker import``: make image ``ref`` from a root-filesystem tar (an open binary stream,
        read in chunks and sent chunked — never held in memory — or a path). Sets ``CMD`` to
        ``cmd`` and a ``LABEL`` per entry of ``labels``, then applies the Dockerfile
        instructions in ``changes``. Returns the new image id."""
        docker = _docker()

        repository, tag = split_ref(ref)
        all_changes = _import_changes(ref, labels, cmd, changes)
        saved_timeout = self.api.timeout
        self.api.timeout = None  # committing a large layer can take longer than any default
        try:
            reply = self._import_from(src, repository, tag, all_changes)
        except (docker.errors.DockerException, OSError) as exc:
            raise self._failed(f"importing image {ref}", exc) from exc
        finally:
            self.api.timeout = saved_timeout
        self._check_import_reply(reply, ref)
        return self.image_id(ref)

    def _import_from(
        self, src: IO[bytes] | str | os.PathLike[str], repository: str, tag: str, changes: list[str]
    ) -> Any:
        """The engine's reply to importing ``src`` (a path is opened here), sent in chunks."""
        if isinstance(src, (str, os.PathLike)):
            with Path(src).open("rb") as stream:
                return self.api.import_image_from_stream(
                    _chunks(stream), repository=repository, tag=tag, changes=changes
                )
        return self.api.import_image_from_stream(
            _chunks(src), repository=repository, tag=tag, changes=changes
        )

    def _check_import_reply(self, reply: Any, ref: str) -> None:
        """EngineError when the import's reply (JSON lines) carries an error."""
        for line in str(reply).splitlines():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("error"):
                raise EngineError(
                    f"importing image {ref} failed on the Docker engine at {self.where}: "
                    f"{' '.join(str(message['error']).split())}",
                    hint="check that the input is an uncompressed or gzip tar of a root filesystem",
                )

    def pull_image(self, ref: str, *, timeout: float) -> str | None:
        """Try to pull ``ref`` within about ``timeout`` seconds. Returns an error text if it
        failed (a pull failure is expected where no registry is reachable), None on success."""
        repository, tag = split_ref(ref)
        saved_timeout = self.api.timeout
        self.api.timeout = timeout  # pull() has no timeout of its own; it reads the client's
        try:
            for message in self.api.pull(repository, tag=tag, stream=True, decode=True):
                if isinstance(message, dict) and message.get("error"):
                    return " ".join(str(message["error"]).split())
        except Exception as exc:  # best effort: streamed reads raise urllib3 errors too
            return _one_line(exc)
        finally:
            self.api.timeout = saved_timeout
        return None if self.image_exists(ref) else f"the engine did not create {ref}"

    def pull_ref(self, ref: str) -> str | None:
        """Pull ``ref`` with the user's docker credentials (docker-py reads the docker config
        and its credential helpers for the registry). None on success, else the engine's
        error in one line. No client timeout: a large image takes as long as it takes."""
        repository, tag = split_ref(ref)
        saved_timeout = self.api.timeout
        self.api.timeout = None
        try:
            for message in self.api.pull(repository, tag=tag, stream=True, decode=True):
                if isinstance(message, dict) and message.get("error"):
                    return " ".join(str(message["error"]).split())
        except Exception as exc:  # an HTTP error before the stream (404, 401) raises
            return _one_line(exc)
        finally:
            self.api.timeout = saved_timeout
        return None if self.image_exists(ref) else f"the engine did not create {ref}"

    def push_ref(self, ref: str) -> str:
        """Push ``ref`` with the user's docker credentials; returns the pushed digest."""
        repository, tag = split_ref(ref)
        saved_timeout = self.api.timeout
        self.api.timeout = None
        pushed = ""
        try:
            for message in self.api.push(repository, tag=tag, stream=True, decode=True):
                if not isinstance(message, dict):
                    continue
                if message.get("error"):
                    raise EngineError(
                        f"pushing {ref} failed on the Docker engine at {self.where}: "
                        f"{' '.join(str(message['error']).split())}",
                        hint="log in to the registry with `docker login` (devenv uses the "
                        "docker CLI's credentials)",
                    )
                aux = message.get("aux")
                if isinstance(aux, dict) and aux.get("Digest"):
                    pushed = str(aux["Digest"])
        except EngineError:
            raise
        except Exception as exc:
            raise self._failed(f"pushing {ref}", exc) from exc
        finally:
            self.api.timeout = saved_timeout
        return pushed

    def is_podman(self) -> bool:
        """Podman's Docker-compatible service names itself among the version's components."""
        try:
            version = self.api.version()
        except Exception as exc:
            raise self._failed("asking the version", exc) from exc
        names = [str(c.get("Name", "")) for c in version.get("Components") or []]
        return any("podman" in name.lower() for name in names)

    def run_healthchecks(self, project: str) -> None:
        """Run, once, the healthcheck of each running container of compose ``project``, with
        Podman's own endpoint (libpod). Podman schedules healthchecks with systemd timers, so
        on a machine without systemd they never run and a service never becomes healthy."""
        docker = _docker()

        label = f"com.docker.compose.project={project}"
        try:
            containers = self.api.containers(filters={"label": label})
        except (docker.errors.DockerException, OSError) as exc:
            raise self._failed(f"listing the containers of {project}", exc) from exc
        for container in containers:
            url = self.api._url("/libpod/containers/{0}/healthcheck", container["Id"])
            with contextlib.suppress(docker.errors.DockerException, OSError):
                self.api._result(self.api._get(url), json=True)  # 409: no check, or stopped

    def copy_image_to(self, ref: str, other: Engine) -> str:
        """``docker save | docker load`` of ``ref`` from this engine into ``other``, streamed
        (never held in memory); the image keeps its id. Returns the id on ``other``."""
        docker = _docker()

        saved = (self.api.timeout, other.api.timeout)
        self.api.timeout = other.api.timeout = None
        try:
            chunks = self.api.get_image(ref, chunk_size=_CHUNK)
            for message in other.api.load_image(chunks, quiet=True):
                if isinstance(message, dict) and message.get("error"):
                    raise EngineError(
                        f"loading {ref} into the engine at {other.where} failed: "
                        f"{' '.join(str(message['error']).split())}"
                    )
        except (docker.errors.DockerException, OSError) as exc:
            raise self._failed(f"copying {ref} to {other.where}", exc) from exc
        finally:
            self.api.timeout, other.api.timeout = saved
        return other.image_id(ref)

    def commit_run(
        self,
        image: str,
        argv: Sequence[str],
        ref: str,
        *,
        labels: Mapping[str, str],
        log: Callable[[str], None],
        timeout: float,
        cmd: Sequence[str] = DEFAULT_CMD,
    ) -> str:
        """Run ``argv`` in a new container of ``image`` (no network), show its output, and
        commit the result as ``ref`` with ``CMD`` ``cmd`` and ``labels``. The container is
        always removed. Returns the new image id; EngineError if ``argv`` failed."""
        docker = _docker()

        changes = [f"CMD {json.dumps(list(cmd))}"]
        changes += [_label_change(k, v) for k, v in sorted(labels.items())]
        repository, tag = split_ref(ref)
        container: Any = None
        saved_timeout = self.api.timeout
        self.api.timeout = None  # the run and the commit can take minutes
        try:
            container = self.api.create_container(
                image=image,
                command=list(argv),
                labels={LABEL_PURPOSE: "bootstrap"},
                host_config=self.api.create_host_config(network_mode="none"),
            )
            self.api.start(container)
            for chunk in self.api.logs(container, stream=True, follow=True):
                for line in chunk.decode("utf-8", "replace").splitlines():
                    log(f"  {line}")
            code = int(self.api.wait(container, timeout=timeout)["StatusCode"])
            if code != 0:
                raise EngineError(f"{argv[-1]!r} exited with {code} in a container of {image}")
            reply = self.api.commit(container, repository=repository, tag=tag, changes=changes)
        except (docker.errors.DockerException, OSError) as exc:
            raise self._failed(f"running and committing a container of {image}", exc) from exc
        finally:
            self.api.timeout = saved_timeout
            if container is not None:
                with contextlib.suppress(docker.errors.DockerException, OSError):
                    self.api.remove_container(container, force=True)
        return str(reply["Id"])

    def volume_exists(self, name: str) -> bool:
        docker = _docker()

        try:
            self.api.inspect_volume(name)
        except docker.errors.NotFound:
            return False
        except (docker.errors.DockerException, OSError) as exc:
            raise self._failed(f"inspecting volume {name}", exc) from exc
        return True

    def tag_image(self, image_id: str, ref: str) -> bool:
        """Give image ``image_id`` the name ``ref``; False if it already had it."""
        docker = _docker()

        info = self.inspect_image(ref)
        # image_id may be the short form the classic builder prints (`---> 0123456789ab`).
        short = image_id.removeprefix("sha256:")
        if info is not None and str(info["Id"]).removeprefix("sha256:").startswith(short):
            return False
        repository, tag = split_ref(ref)
        try:
            self.api.tag(image_id, repository, tag=tag)
        except (docker.errors.DockerException, OSError) as exc:
            raise self._failed(f"tagging image {image_id[:19]} as {ref}", exc) from exc
        return True

    def remove_image(self, ref: str, *, missing_ok: bool = True) -> bool:
        """Remove image ``ref`` (never forced: an image a container uses is kept and this raises).
        Returns False if there was no such image and ``missing_ok``."""
        docker = _docker()

        try:
            self.api.remove_image(ref)
        except docker.errors.NotFound as exc:
            if missing_ok:
                return False
            raise self._failed(f"removing image {ref}", exc) from exc
        except (docker.errors.DockerException, OSError) as exc:
            raise self._failed(
                f"removing image {ref}",
                exc,
                hint="remove the containers that use it first ('docker ps -a')",
            ) from exc
        return True

    def prune_dangling(self, label: str) -> int:
        """Remove the untagged images nothing stands on that carry `label` (KEY=VALUE): what a
        build leaves behind (a stage's end, an image its rebuild replaced). Returns how many."""
        docker = _docker()

        try:
            pruned = self.api.prune_images(filters={"dangling": True, "label": label})
        except (docker.errors.DockerException, OSError) as exc:
            raise self._failed("removing the untagged images builds left", exc) from exc
        return len((pruned or {}).get("ImagesDeleted") or [])

    # -- builds ------------------------------------------------------------------------------

    def build(
        self,
        *,
        path: Path,
        dockerfile: str,
        target: str | None,
        tag: str | None,
        labels: Mapping[str, str],
        buildargs: Mapping[str, str],
        nocache: bool,
        cache_from: Sequence[str] = (),
    ) -> Iterator[dict[str, Any]]:
        """Stream a classic-builder build's decoded messages. The low-level API reports a failed
        step in the stream, not as an exception: the caller reads the stream for errors."""
        docker = _docker()

        saved_timeout = self.api.timeout
        self.api.timeout = None  # a step may run for many minutes without output
        try:
            yield from self.api.build(
                path=str(path),
                dockerfile=dockerfile,
                target=target,
                tag=tag,
                labels=dict(labels),
                buildargs=dict(buildargs),
                nocache=nocache,
                cache_from=list(cache_from) or None,
                rm=True,
                forcerm=True,
                decode=True,
            )
        except (docker.errors.DockerException, OSError) as exc:
            raise self._failed(f"building {tag or target}", exc) from exc
        except Exception as exc:
            # The stream is read through urllib3 and requests, whose errors are neither of the
            # above: an engine that stops or a connection cut mid-build raises those.
            if _is_transport_error(exc):
                raise self._failed(
                    f"building {tag or target}",
                    exc,
                    hint="the connection to the engine broke; check that it still runs, "
                    "then build again",
                ) from exc
            raise
        finally:
            self.api.timeout = saved_timeout


def context_files(root: Path) -> list[str]:
    """The files a build of ``root`` sends the engine: docker-py's own walk of the context
    with the project's .dockerignore (the same code that makes the build's tar)."""
    docker = _docker()
    ignore = root / ".dockerignore"
    patterns: list[str] = []
    if ignore.is_file():
        lines = ignore.read_text(encoding="utf-8").splitlines()
        patterns = [line.strip() for line in lines if line.strip() and line.strip()[0] != "#"]
    paths = docker.utils.build.exclude_paths(str(root), patterns)
    return sorted(p for p in paths if (root / p).is_file() or (root / p).is_symlink())


def _is_transport_error(exc: BaseException) -> bool:
    """An error of the HTTP layer under docker-py (urllib3, requests, http.client)."""
    import http.client

    import requests
    import urllib3

    return isinstance(
        exc,
        (
            urllib3.exceptions.HTTPError,
            requests.exceptions.RequestException,
            http.client.HTTPException,
        ),
    )


def engine_errors() -> tuple[type[Exception], ...]:
    """What a docker-py call raises when the engine refuses it or the connection to the engine
    fails: docker-py's errors and those of the HTTP layer under it. For code that holds a
    docker-py client of its own (testcontainers', in `devenv verify`) and must catch exactly
    these, never everything."""
    import http.client

    import requests
    import urllib3

    return (
        _docker().errors.DockerException,
        requests.exceptions.RequestException,
        urllib3.exceptions.HTTPError,
        http.client.HTTPException,
    )


def is_read_timeout(exc: BaseException) -> bool:
    """A docker-py call with a timeout (``Container.wait(timeout=...)``) ran out of time:
    requests raises ConnectionError around urllib3's ReadTimeoutError for it."""
    import requests
    import urllib3

    timeouts = (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError)
    return any(isinstance(cause, timeouts) for cause in _causes(exc))


# -- throw-away containers (for `devenv parity`) --------------------------------------------


def run_in_image(
    engine: Engine,
    ref: str,
    argv: Sequence[str],
    *,
    timeout: float = 300.0,
    network: bool = False,
) -> tuple[int, str, str]:
    """Run ``argv`` in a throw-away container of image ``ref`` (entrypoint replaced by
    ``argv[0]``, no network unless asked) and return (exit code, stdout, stderr). Always
    removed."""
    docker = _docker()
    if not engine.image_exists(ref):
        raise EngineError(
            f"image {ref} not found on the Docker engine at {engine.where}",
            hint="build it first: devenv build",
        )
    container: Any = None
    try:
        container = engine.api.create_container(
            image=ref,
            entrypoint=[argv[0]],
            command=list(argv[1:]),
            labels={LABEL_PURPOSE: "run"},
            host_config=engine.api.create_host_config(network_mode="bridge" if network else "none"),
        )
        engine.api.start(container)
        status = engine.api.wait(container, timeout=timeout)
        out = engine.api.logs(container, stdout=True, stderr=False)
        err = engine.api.logs(container, stdout=False, stderr=True)
    except (docker.errors.DockerException, OSError) as exc:
        raise engine._failed(f"running {argv[0]} in {ref}", exc) from exc
    finally:
        if container is not None:
            # Best effort: it carries our label for a manual clean-up. v=True: with the
            # anonymous volume the db image's VOLUME gives every container.
            with contextlib.suppress(docker.errors.DockerException, OSError):
                engine.api.remove_container(container, force=True, v=True)
    return (
        int(status["StatusCode"]),
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
    )
