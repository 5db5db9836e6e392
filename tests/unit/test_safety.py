"""Hostile or mistaken input never destroys or escapes: the three dangerous cases of issue 11
(a venv path that is the project or devenv's own folder, a symlink out of the project, an apt
name apt reads as an action), and the deletion code path that checks for itself."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from devenv.errors import HostError, UnsafePathError
from devenv.files import local as local_files
from devenv.fs.safety import check_real_dirs, remove_tree
from devenv.host import venv as host_venv
from devenv.plan.model import load_plan
from devenv.rules import validate
from devenv.support.exclusive_run import host_lock
from tests.conftest import MakeProject
from tests.unit.test_host_venv import build


def tree(root: Path) -> dict[str, bytes | str]:
    """Every path under root with its content (files) or link target (symlinks)."""
    out: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = f"-> {os.readlink(path)}"
        elif path.is_file():
            out[rel] = path.read_bytes()
        else:
            out[rel] = "dir"
    return out


def generate(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-C", str(project), "generate", *args])
    return result.exit_code, result.stderr


def assert_one_line(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("devenv: error: ") and "Traceback" not in err
    assert all(c.isprintable() for c in lines[0]), repr(lines[0])
    assert len(lines[0]) <= 620
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# --- 1. the venv can't be the project, devenv's own folders, or .git -----------------------

BAD_VENVS = [
    ".",
    "./",
    "./.",
    "",
    "a/..",
    ".devenv",
    ".devenv/venvs",
    "./.devenv",
    "docker",
    "docker/certs",
    ".devcontainer",
    ".git",
    ".git/venv",
    "devenv.toml",
    "compose.yaml",
    ".gitignore",
    "/",
    "../",
]


@pytest.mark.parametrize("venv", BAD_VENVS)
def test_a_venv_path_that_is_not_a_folder_of_its_own_is_refused(
    make_project: MakeProject, venv: str
) -> None:
    project = make_project(f"[python]\nvenv = {venv!r}\n")
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    before = tree(project)
    code, err = generate(project)
    assert_one_line(code, err, "[python] venv")
    assert tree(project) == before


@pytest.mark.parametrize("venv", [".venv", "venv", "env/py", ".venvs/dev", "docker-venv"])
def test_ordinary_venv_paths_still_work(make_project: MakeProject, venv: str) -> None:
    project = make_project(f"[python]\nvenv = {venv!r}\n")
    code, err = generate(project)
    assert code == 0, err


def test_recreate_never_falls_back_to_deleting_the_folder(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the foreign venv can't be moved into .devenv/ (another file system), nothing is
    deleted: the folder and everything in it stay."""
    plan = load_plan(make_project())
    mine = plan.project_dir / ".venv"
    mine.mkdir()
    (mine / "precious.py").write_text("keep me\n")

    def cross_device(src: object, dst: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(host_venv.os, "rename", cross_device)
    with pytest.raises(HostError, match="nothing was deleted"):
        build(plan, recreate=True)
    assert (mine / "precious.py").read_text() == "keep me\n"
    assert not any(mine.parent.glob(".venv.devenv-*"))  # no temporary link left behind


def test_recreate_refuses_to_replace_a_file(make_project: MakeProject) -> None:
    plan = load_plan(make_project())
    (plan.project_dir / ".venv").write_text("not a venv\n")
    with pytest.raises(HostError, match="is a file"):
        build(plan, recreate=True)
    assert (plan.project_dir / ".venv").read_text() == "not a venv\n"


def test_recreate_moves_the_folder_into_devenv_then_deletes_it_there(
    make_project: MakeProject,
) -> None:
    plan = load_plan(make_project())
    (plan.project_dir / ".venv").mkdir()
    (plan.project_dir / ".venv" / "old").write_text("x")
    build(plan, recreate=True)
    assert (plan.project_dir / ".venv").is_symlink()
    assert not list((plan.project_dir / ".devenv").glob("replaced-*"))
    assert (plan.project_dir / "requirements.txt").exists()


def test_remove_tree_deletes_only_inside_the_state_folder(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / ".devenv" / "venvs" / "g1").mkdir(parents=True)
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data").write_text("x")
    for victim in (
        project,
        project / "src",
        project / ".devenv",
        project / ".devenv" / ".." / "src",
        outside,
        Path("/"),
    ):
        with pytest.raises(UnsafePathError):
            remove_tree(project, victim)
    assert (project / "src" / "app.py").exists() and (outside / "data").exists()
    remove_tree(project, project / ".devenv" / "venvs" / "g1")
    assert not (project / ".devenv" / "venvs" / "g1").exists()


def test_remove_tree_never_follows_a_symlinked_state_folder(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    outside = tmp_path / "outside"
    (outside / "venvs" / "g1").mkdir(parents=True)
    (outside / "venvs" / "g1" / "data").write_text("x")
    (project / ".devenv").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="symlink"):
        remove_tree(project, project / ".devenv" / "venvs" / "g1")
    (project / ".devenv").unlink()
    (project / ".devenv").mkdir()
    (project / ".devenv" / "venvs").symlink_to(outside / "venvs")
    with pytest.raises(UnsafePathError, match="symlink"):
        remove_tree(project, project / ".devenv" / "venvs" / "g1")
    assert (outside / "venvs" / "g1" / "data").exists()


def test_garbage_collection_refuses_a_symlinked_state_folder(
    make_project: MakeProject, tmp_path: Path
) -> None:
    plan = load_plan(make_project())
    outside = tmp_path / "outside"
    (outside / "venvs" / "abc-1").mkdir(parents=True)
    (outside / "venvs" / "abc-1" / "devenv.json").write_text('{"complete": true}')
    (plan.project_dir / ".devenv").symlink_to(outside)
    with pytest.raises(UnsafePathError):
        host_venv.collect_garbage(plan, keep=set())
    assert (outside / "venvs" / "abc-1" / "devenv.json").exists()


def test_host_install_lock_refuses_a_symlinked_state_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    project = tmp_path / "proj"
    project.mkdir()
    (project / ".devenv").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="symlink"), host_lock(project, dry_run=False):
        pass
    assert list(outside.iterdir()) == []


# --- 2. symlinks out of the project: generate refuses before writing anything --------------

LINKED = ["docker", "docker/certs", ".devenv", ".devcontainer"]


@pytest.mark.parametrize("folder", LINKED)
@pytest.mark.parametrize("fresh", [True, False], ids=["fresh", "generated-before"])
def test_a_symlinked_folder_out_of_the_project_stops_generate(
    make_project: MakeProject, tmp_path: Path, folder: str, fresh: bool
) -> None:
    project = make_project()
    if not fresh:
        assert generate(project)[0] == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.crt").write_text("not yours\n")
    (outside / "db.env").write_text("POSTGRES_PASSWORD=theirs\n")
    target = project / folder
    if target.exists():
        os.rename(target, tmp_path / "moved-away")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(outside)
    before, before_outside = tree(project), tree(outside)
    code, err = generate(project)
    assert_one_line(code, err, folder, "symlink", "nothing was written")
    assert tree(project) == before
    assert tree(outside) == before_outside


@pytest.mark.parametrize(
    "name", ["compose.yaml", ".gitignore", ".devenv/db.env", "docker/Dockerfile"]
)
def test_a_symlinked_file_is_neither_followed_nor_replaced(
    make_project: MakeProject, tmp_path: Path, name: str
) -> None:
    project = make_project()
    outside = tmp_path / "outside.txt"
    outside.write_text("someone else's file\n")
    (project / name).parent.mkdir(parents=True, exist_ok=True)
    (project / name).symlink_to(outside)
    before = tree(project)
    code, err = generate(project)
    assert_one_line(code, err, name, "symlink")
    assert tree(project) == before
    assert outside.read_text() == "someone else's file\n"


def test_a_symlink_inside_the_certs_folder_is_not_written_through(
    make_project: MakeProject, tmp_path: Path
) -> None:
    project = make_project()
    assert generate(project)[0] == 0
    outside = tmp_path / "outside.crt"
    outside.write_text("keep\n")
    (project / "docker/certs/README.md").unlink()
    (project / "docker/certs/README.md").symlink_to(outside)
    code, err = generate(project)
    assert_one_line(code, err, "README.md", "symlink")
    assert outside.read_text() == "keep\n"


def test_check_real_dirs_accepts_real_folders_and_missing_ones(tmp_path: Path) -> None:
    (tmp_path / "docker").mkdir()
    check_real_dirs(tmp_path, ["docker/Dockerfile", "new/deep/file", "."])


# --- 3. apt names: nothing apt reads as an action or a selector ---------------------------

BAD_APT = [
    "tzdata-",
    "tzdata+",
    "libc6-",
    "curl/trixie",
    "curl/stable",
    "curl*",
    "lib?",
    "lib[a-z]",
    "^task",
    "curl:amd64",
    "-curl",
    "curl=1.0-",
    "curl=",
    "curl=*",
    "c",
    "Curl",
    "curl ",
    " curl",
    "curl,wget",
    "curl|wget",
    "?name(curl)",
    "~ncurl",
    "curl=1.0/trixie",
]


@pytest.mark.parametrize("name", BAD_APT)
def test_apt_names_apt_reads_as_actions_or_patterns_are_refused(
    make_project: MakeProject, name: str
) -> None:
    with pytest.raises(ValueError):
        validate.deb_package_spec(name)
    project = make_project(f"[system]\npackages = [{name!r}]\n")
    before = tree(project)
    code, err = generate(project)
    assert_one_line(code, err, "[system] packages")
    assert tree(project) == before


@pytest.mark.parametrize(
    "name",
    ["g++", "libstdc++-14-dev", "python3.12", "libpq-dev", "curl=8.5.0-2ubuntu10.6", "a0", "c++"],
)
def test_real_apt_names_still_pass(name: str) -> None:
    assert validate.deb_package_spec(name) == name


# --- db.env: created exclusively -----------------------------------------------------------


def test_racing_runs_create_one_password_and_no_temp_files(tmp_path: Path) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        results.append(local_files.ensure_env_file(tmp_path))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    text = (tmp_path / ".devenv" / "db.env").read_text()
    assert text.count("POSTGRES_PASSWORD=") == 1
    assert os.stat(tmp_path / ".devenv" / "db.env").st_mode & 0o777 == 0o600
    assert sorted(p.name for p in (tmp_path / ".devenv").iterdir()) == ["db.env"]
    assert not local_files.ensure_env_file(tmp_path)
    assert (tmp_path / ".devenv" / "db.env").read_text() == text


# --- 4. only certificates enter images -------------------------------------------------------

KEY = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize("name", ["server.key", "bundle.crt", "notes.txt", "id_ed25519"])
def test_a_private_key_in_the_certs_folder_stops_generate(
    make_project: MakeProject, name: str
) -> None:
    project = make_project()
    assert generate(project)[0] == 0
    (project / "docker/certs" / name).write_text(KEY.replace("PRIVATE", "EC PRIVATE"))
    before = tree(project)
    code, err = generate(project)
    assert_one_line(code, err, name, "private key", "nothing was written")
    assert tree(project) == before


def test_the_build_context_carries_only_certificates_from_the_certs_folder(
    make_project: MakeProject,
) -> None:
    from docker.utils.build import exclude_paths

    project = make_project()
    assert generate(project)[0] == 0
    certs = project / "docker/certs"
    for name in ("extra.crt", "stray.pem", "key.key", "ca.der", "notes.txt"):
        (certs / name).write_text("x\n")
    (project / ".env").write_text("SECRET=1\n")
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("x\n")
    lines = (project / ".dockerignore").read_text().splitlines()
    patterns = [line for line in lines if line and not line.startswith("#")]
    sent = exclude_paths(str(project), patterns, dockerfile="docker/Dockerfile")
    in_certs = sorted(p for p in sent if p.startswith("docker/certs/"))
    assert in_certs and all(p.endswith(".crt") for p in in_certs), in_certs
    assert not {".env", "src/app.py", ".devenv/db.env"} & set(sent)


def test_a_folder_a_killed_recreate_moved_aside_is_deleted_by_the_next_run(
    make_project: MakeProject,
) -> None:
    plan = load_plan(make_project())
    trash = plan.project_dir / ".devenv" / "replaced-.venv-4242"
    (trash / "lib").mkdir(parents=True)
    (trash / "lib" / "x.py").write_text("x")
    removed = host_venv.collect_garbage(plan, keep=set())
    assert "replaced-.venv-4242" in removed and not trash.exists()
    assert (plan.project_dir / "requirements.txt").exists()
