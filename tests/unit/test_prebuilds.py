"""Prebuilds without an engine: content tags, the registry key, engine targets and contexts."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from devenv.container.engine_target import export_context, resolve
from devenv.container.registry import base_ref
from devenv.container.tags import (
    TagInputs,
    base_identity,
    content_tag,
    copied_files,
    copy_sources,
)
from devenv.errors import EngineError
from devenv.plan.model import Plan, Target, load_plan
from devenv.steps.recipe import compile_plan


def images(plan: Plan) -> tuple[str, str]:
    """The dev and db images' fingerprints (their `dev.devenv.plan` labels)."""
    recipe = compile_plan(plan)
    return recipe.fingerprint(Target.DEV), recipe.fingerprint(Target.DB)


BASE = TagInputs(
    target="dev",
    dockerfile="FROM debian:trixie AS base\nCOPY requirements.txt /r.txt\n",
    files={"requirements.txt": (0o100644, b"six==1.17.0\n")},
    lock=None,
    plan_digest="a987c59571eab9b8",
    base="sha256:" + "1" * 64,
)


def test_same_inputs_same_tag() -> None:
    again = dataclasses.replace(BASE, files=dict(BASE.files))
    assert content_tag(BASE) == content_tag(again)
    assert len(content_tag(BASE)) == 32
    assert all(c in "0123456789abcdef" for c in content_tag(BASE))


@pytest.mark.parametrize(
    "change",
    [
        {"target": "db"},
        {"dockerfile": BASE.dockerfile + "RUN true\n"},
        {"files": {"requirements.txt": (0o100644, b"six==1.16.0\n")}},
        {"files": {"requirements.txt": (0o100755, b"six==1.17.0\n")}},  # COPY keeps modes
        {"files": {"other.txt": (0o100644, b"six==1.17.0\n")}},  # the same bytes elsewhere
        {"files": {**BASE.files, "docker/x.sh": (0o100755, b"")}},
        {"lock": b""},  # an empty lock is not no lock
        {"lock": b"six==1.17.0 --hash=sha256:00\n"},
        {"plan_digest": "0" * 16},
        {"base": "sha256:" + "2" * 64},
    ],
)
def test_each_input_changes_the_tag(change: dict[str, object]) -> None:
    assert content_tag(dataclasses.replace(BASE, **change)) != content_tag(BASE)  # type: ignore[arg-type]


# One pushed image as `docker image inspect` shows it on the overlay2 store (Id: the config's
# digest) and on the containerd image store (Id: the manifest's digest; one more RepoDigest).
OVERLAY2 = {
    "Id": "sha256:" + "a" * 64,
    "RepoDigests": ["127.0.0.1:5443/team/p-base@sha256:" + "b" * 64],
    "Os": "linux",
    "Architecture": "amd64",
    "Config": {
        "Hostname": "",
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["bash"],
        "Labels": {"dev.devenv.bootstrapped": "true"},
        "OnBuild": None,
    },
    "RootFS": {"Type": "layers", "Layers": ["sha256:" + "c" * 64]},
}
CONTAINERD = {
    **OVERLAY2,
    "Id": "sha256:" + "d" * 64,
    "RepoDigests": [*OVERLAY2["RepoDigests"], "debian@sha256:" + "d" * 64],  # type: ignore[list-item]
    "Variant": "",
    "Config": {**OVERLAY2["Config"], "OnBuild": [], "Volumes": None},  # type: ignore[dict-item]
}


def test_the_base_is_its_content_on_every_image_store() -> None:
    assert base_identity(OVERLAY2) == base_identity(CONTAINERD)
    tags = {
        content_tag(dataclasses.replace(BASE, base=base_identity(i)))
        for i in (OVERLAY2, CONTAINERD)
    }
    assert len(tags) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"RootFS": {"Type": "layers", "Layers": ["sha256:" + "e" * 64]}},
        {"RootFS": {"Type": "layers", "Layers": ["sha256:" + "c" * 64, "sha256:" + "e" * 64]}},
        {"Config": {**OVERLAY2["Config"], "Env": ["PATH=/usr/bin", "LANG=C.UTF-8"]}},  # type: ignore[dict-item]
        {"Config": {**OVERLAY2["Config"], "User": "nobody"}},  # type: ignore[dict-item]
        {"Config": {**OVERLAY2["Config"], "WorkingDir": "/srv"}},  # type: ignore[dict-item]
        {"Config": {**OVERLAY2["Config"], "Shell": ["/bin/bash", "-c"]}},  # type: ignore[dict-item]
        {"Config": {**OVERLAY2["Config"], "OnBuild": ["RUN true"]}},  # type: ignore[dict-item]
        {"Architecture": "arm64"},
    ],
)
def test_a_changed_layer_or_config_is_another_base(change: dict[str, object]) -> None:
    assert base_identity({**OVERLAY2, **change}) != base_identity(OVERLAY2)


def test_parts_cannot_run_into_each_other() -> None:
    # Length prefixes: moving bytes from one part to the next changes the tag.
    a = dataclasses.replace(BASE, dockerfile="ab", plan_digest="c")
    b = dataclasses.replace(BASE, dockerfile="a", plan_digest="bc")
    assert content_tag(a) != content_tag(b)


def test_copy_sources_reads_every_form() -> None:
    text = (
        "# COPY commented/ /nowhere\n"
        "FROM debian:trixie AS base\n"
        "COPY docker/certs/ /usr/local/share/ca-certificates/devenv/\n"
        "COPY --chown=dev:dev requirements.txt /opt/r/requirements.txt\n"
        'COPY --chown=dev:dev ["with space.txt", "/opt/r/with space.txt"]\n'
        "COPY --from=db /usr/lib/x /usr/lib/x\n"
        "ADD a.txt \\\n    b.txt /dest/\n"
    )
    assert copy_sources(text) == (
        "docker/certs",
        "requirements.txt",
        "with space.txt",
        "a.txt",
        "b.txt",
    )


def test_copied_files_takes_only_what_copies_name(tmp_path: Path) -> None:
    (tmp_path / "docker" / "certs").mkdir(parents=True)
    (tmp_path / "docker" / "certs" / "a.crt").write_bytes(b"A")
    (tmp_path / "docker" / "certs-old").mkdir()
    (tmp_path / "docker" / "certs-old" / "b.crt").write_bytes(b"B")
    (tmp_path / "requirements.txt").write_bytes(b"six\n")
    context = ["docker/certs/a.crt", "docker/certs-old/b.crt", "requirements.txt"]
    got = copied_files(tmp_path, ["docker/certs"], context)
    assert list(got) == ["docker/certs/a.crt"]
    assert got["docker/certs/a.crt"][1] == b"A"


def _project(tmp_path: Path, environment: str) -> Path:
    (tmp_path / "devenv.toml").write_text(f"[environment]\n{environment}\n")
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    return tmp_path


def test_each_project_has_its_own_base_in_the_registry(tmp_path: Path) -> None:
    refs = {}
    for name in ("shop", "blog"):
        root = tmp_path / name
        root.mkdir()
        settings = f'name = "{name}"\nregistry = "127.0.0.1:5443/team"'
        plan = load_plan(_project(root, settings))
        refs[name] = (base_ref(plan), base_ref(plan, "sha256:" + "0123456789abcdef" * 4))
    assert refs["shop"] == (
        "127.0.0.1:5443/team/shop-base:ubuntu-24.04",
        "127.0.0.1:5443/team/shop-base:ubuntu-24.04-0123456789abcdef",
    )
    assert refs["blog"][0] == "127.0.0.1:5443/team/blog-base:ubuntu-24.04"


@pytest.mark.parametrize(
    "value",
    ["127.0.0.1:5443/team", "registry.example.com/team/sub", "localhost/team", "[::1]:5000/t"],
)
def test_registry_key_accepts(tmp_path: Path, value: str) -> None:
    plan = load_plan(_project(tmp_path, f'registry = "{value}"'))
    assert plan.environment.registry == value


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("https://registry.example.com/team", "has a scheme"),
        ("team/images", "Docker Hub account"),
        ("registry.example.com", "is not HOST[:PORT]/NAMESPACE"),
        ("registry.example.com/Team", "lowercase names"),
        ("registry.example.com/team:latest", "lowercase names"),
        ("registry.example.com/team/", "lowercase names"),
        ("registry.example.com:0/team", "port 0"),
        ("registry example.com/team", "is not HOST[:PORT]/NAMESPACE"),
        ("registry.example.com/te\\nam", "control character"),
    ],
)
def test_registry_key_refuses(tmp_path: Path, value: str, fragment: str) -> None:
    project = _project(tmp_path, f'registry = "{value}"')
    result = CliRunner().invoke(cli, ["-C", str(project), "plan"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "[environment] registry" in lines[0] and fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_registry_is_no_input_of_an_image(tmp_path: Path) -> None:
    # Where images are shared is not what is in them: the digest label stays the same.
    one = load_plan(_project(tmp_path, 'registry = "127.0.0.1:5443/a"'))
    two = load_plan(_project(tmp_path, 'registry = "registry.example.com/b"'))
    none = load_plan(_project(tmp_path, 'name = "' + one.environment.name + '"'))
    assert images(one) == images(two) == images(none)


def test_the_published_port_is_no_input_of_an_image(tmp_path: Path) -> None:
    # Compose publishes it; a teammate on another port must get the same prebuilt images.
    one = load_plan(_project(tmp_path, "[postgres]\nhost_port = 5433"))
    two = load_plan(_project(tmp_path, "[postgres]\nhost_port = 5434"))
    assert images(one) == images(two)


def test_push_without_a_registry_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["-C", str(_project(tmp_path, "")), "push"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "devenv: error: the plan names no registry (set [environment] registry = "
        '"HOST[:PORT]/NAMESPACE" in devenv.toml)'
    ]


# -- engine targets ---------------------------------------------------------------------------


def _context(config: Path, name: str, host: str, *, tls: bool, skip: bool = False) -> None:
    key = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / key
    meta.mkdir(parents=True)
    endpoint = {"Host": host, "SkipTLSVerify": skip}
    (meta / "meta.json").write_text(
        json.dumps({"Name": name, "Metadata": {}, "Endpoints": {"docker": endpoint}})
    )
    if tls:
        folder = config / "contexts" / "tls" / key / "docker"
        folder.mkdir(parents=True)
        for part in ("ca.pem", "cert.pem", "key.pem"):
            (folder / part).write_text("x")


def test_default_target_is_the_local_socket(tmp_path: Path) -> None:
    target = resolve({"HOME": str(tmp_path)})
    assert (target.host, target.source, target.on_this_machine) == (
        "unix:///var/run/docker.sock",
        "default",
        True,
    )


def test_docker_host_wins_over_contexts(tmp_path: Path) -> None:
    _context(tmp_path, "farm", "tcp://10.0.0.5:2376", tls=True)
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "farm"}))
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "farm"}
    target = resolve({**env, "DOCKER_HOST": "tcp://127.0.0.1:5476", "DOCKER_TLS_VERIFY": "1"})
    assert (target.host, target.source, target.tls_verify) == (
        "tcp://127.0.0.1:5476",
        "DOCKER_HOST",
        True,
    )
    assert target.on_this_machine  # loopback: the same machine's files


def test_current_context_from_the_config(tmp_path: Path) -> None:
    _context(tmp_path, "farm", "tcp://10.0.0.5:2376", tls=True)
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "farm"}))
    env: dict[str, str] = {"DOCKER_CONFIG": str(tmp_path)}
    target = export_context(env)
    tls = tmp_path / "contexts" / "tls" / hashlib.sha256(b"farm").hexdigest() / "docker"
    assert target.source == "context farm"
    assert not target.on_this_machine
    assert env["DOCKER_HOST"] == "tcp://10.0.0.5:2376"
    assert env["DOCKER_CERT_PATH"] == str(tls)
    assert env["DOCKER_TLS_VERIFY"] == "1"


def test_docker_context_variable_and_skip_verify(tmp_path: Path) -> None:
    _context(tmp_path, "box", "ssh://dev@box.example.com", tls=False)
    _context(tmp_path, "lab", "tcp://lab.example.com:2376", tls=True, skip=True)
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "box"}))
    box = resolve({"DOCKER_CONFIG": str(tmp_path)})
    assert (box.host, box.tls_verify, box.cert_path) == ("ssh://dev@box.example.com", False, None)
    lab = resolve({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "lab"})
    assert lab.host == "tcp://lab.example.com:2376"
    assert lab.cert_path is not None and not lab.tls_verify
    assert "DOCKER_TLS_VERIFY" not in lab.env()


def test_default_context_and_no_config(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "default"}))
    env: dict[str, str] = {"DOCKER_CONFIG": str(tmp_path)}
    assert export_context(env).source == "default"
    assert "DOCKER_HOST" not in env


def test_missing_context_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="the docker context 'gone' does not exist"):
        resolve({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "gone"})


def test_up_refuses_an_engine_elsewhere(tmp_path: Path) -> None:
    project = _project(tmp_path, "")
    result = CliRunner(env={"DOCKER_HOST": "tcp://10.0.0.5:2376"}).invoke(
        cli, ["-C", str(project), "up"]
    )
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "devenv up needs an engine on this machine" in line
    assert "tcp://10.0.0.5:2376 (from DOCKER_HOST)" in line
    assert not (project / "compose.yaml").exists()  # refused before anything was written


# -- Podman's build stream (buildah's lines, as its Docker-compatible API streams them) -------


def test_podman_build_stream_is_read_as_steps() -> None:
    from devenv.container.build import Progress, TargetResult, read_stream

    lines = [
        "[1/2] STEP 1/5: FROM debian:trixie AS base",
        "[1/2] STEP 2/5: RUN apt-get update",
        "--> Using cache 206dd6a26dfacb0a58d95d3a2fe613fa44a02d6fd5b58a164dbfb933a45f93e9",
        "--> 206dd6a26df",
        "[2/2] STEP 1/10: FROM 1fdf27981c0ff37a23bbb95f0a41fb2501adcc5b98715cd8 AS db",
        "[2/2] STEP 2/10: RUN apt-get install -y postgresql-17",
        "Setting up postgresql-17 ...",
        "COMMIT devenv/x-db:latest",
        "--> 064bfdc160c",
        "Successfully tagged localhost/devenv/x-db:latest",
        "064bfdc160cf0e1d0a3b0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e",
    ]
    result = TargetResult(target="db", ref="devenv/x-db:latest")
    messages = [{"stream": line + "\n"} for line in lines]
    messages.append({"aux": {"ID": "sha256:064bfdc160cf"}})
    read_stream("db", messages, Progress(), result)
    assert [(s.stage, s.number, s.total, s.cached) for s in result.steps] == [
        ("base", 1, 5, False),
        ("base", 2, 5, True),
        ("db", 1, 10, False),
        ("db", 2, 10, False),
    ]
    assert result.steps[3].instruction == "RUN apt-get install -y postgresql-17"
    assert result.image_id == "sha256:064bfdc160cf"


@pytest.mark.parametrize(
    ("error", "absent"),
    [
        (
            "manifest for 127.0.0.1:5443/t/x-dev:abc not found: manifest unknown: manifest unknown",
            True,
        ),
        ("reading manifest abc in 127.0.0.1:5443/t/x-dev: manifest unknown", True),  # Podman
        (
            'Head "https://127.0.0.1:5443/v2/t/x-dev/manifests/abc": no basic auth credentials',
            False,
        ),
        ("read tcp 127.0.0.1:53706->127.0.0.1:5443: read: connection reset by peer", False),
        ("x509: certificate signed by unknown authority", False),
    ],
)
def test_a_miss_is_told_from_a_failure(error: str, absent: bool) -> None:
    from devenv.container.registry import is_absent

    assert is_absent(error) is absent
