"""Issue 11, kind by kind: every hostile or mistaken value is one line, exit 2, nothing
written; every valid neighbour of it still generates."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from devenv.plan.model import load_plan
from devenv.rules import validate
from tests.conftest import MakeProject
from tests.unit.test_safety import assert_one_line, generate, tree

# (plan, requirements.txt or None for the default, extra files, fragments of the message)
Case = tuple[str, "str | bytes | None", dict[str, "str | bytes"], list[str]]

# --- requirements, read the way pip reads them ---------------------------------------------

REQUIREMENTS: dict[str, Case] = {
    "attached -i": ("", "-ihttp://example.invalid/simple\nfastapi\n", {}, ["'--index-url'"]),
    "tab after option": ("", "--index-url\thttp://example.invalid/simple\n", {}, ["--index-url"]),
    "abbreviated --extra": ("", "--extra http://example.invalid/simple\n", {}, ["--extra-index"]),
    "abbreviated --index=": ("", "--index=http://example.invalid/simple\n", {}, ["--index-url"]),
    "abbreviated --find": ("", "--find /tmp/wheels\n", {}, ["--find-links"]),
    "abbreviated --trusted": ("", "--trusted example.invalid\n", {}, ["--trusted-host"]),
    "--no-index": ("", "--no-index\nfastapi\n", {}, ["--no-index"]),
    "-f attached": ("", "-f/tmp/wheels\n", {}, ["--find-links"]),
    "index option after a requirement": (
        "",
        "fastapi --index-url http://example.invalid/simple\n",
        {},
        ["--index-url"],
    ),
    "ambiguous option": ("", "--re x\n", {}, ["ambiguous"]),
    "unknown option": ("", "--frobnicate\n", {}, ["not an option"]),
    "unknown short option": ("", "-x foo\n", {}, ["not an option"]),
    "flag with a value": ("", "--pre=yes\n", {}, ["takes no value"]),
    "option without value": ("", "-r\n", {}, ["needs a value"]),
    "-r attached outside": ("", "-r../outside.txt\n", {}, ["outside the project"]),
    "-r= outside": ("", "--requirement=../outside.txt\n", {}, ["outside the project"]),
    "abbreviated --requirem": ("", "--requirem ../outside.txt\n", {}, ["outside the project"]),
    "-c outside": ("", "-c /etc/passwd\n", {}, ["inside the project"]),
    "-r URL": ("", "-r https://example.invalid/r.txt\n", {}, ["names a URL"]),
    "-r variable": ("", "-r ${REQS}\n", {}, ["variable"]),
    "-r .env": ("", "-r .env\n", {".env": "SECRET=1\n"}, ["secrets"]),
    "-r .env.local": ("", "-r .env.local\n", {".env.local": "X=1\n"}, ["secrets"]),
    "-r .devenv/db.env": (
        "",
        "-r .devenv/db.env\n",
        {".devenv/db.env": "POSTGRES_PASSWORD=x\n"},
        [".devenv/"],
    ),
    "-r private key": ("", "-r id_rsa\n", {"id_rsa": "x\n"}, ["secrets"]),
    "-r a .pem": ("", "-r certs/server.pem\n", {"certs/server.pem": "x\n"}, ["secrets"]),
    "-r into .git": ("", "-r .git/config\n", {".git/config": "x\n"}, [".git/"]),
    "-r quoted missing": ("", '-r "sub dir/missing.txt"\n', {}, ["does not exist"]),
    "unclosed quote": ("", '-r "sub dir/x.txt\n', {}, ["can't read the options"]),
    "vcs": ("", "git+https://example.invalid/x.git#egg=x\n", {}, ["version control"]),
    "url": ("", "https://example.invalid/x-1.0-py3-none-any.whl\n", {}, ["URL"]),
    "name @ url": ("", "x @ https://example.invalid/x.whl\n", {}, ["URL"]),
    "name@url": ("", "x@https://example.invalid/x.whl\n", {}, ["URL"]),
    "name @ file": ("", "x @ file:///tmp/x.whl\n", {}, ["URL"]),
    "local wheel": ("", "wheels/x-1.0-py3-none-any.whl\n", {}, ["local and editable"]),
    "bare wheel": ("", "x-1.0-py3-none-any.whl\n", {}, ["local and editable"]),
    "home path": ("", "~/src/x\n", {}, ["local and editable"]),
    "-e attached": ("", "-e.\n", {}, ["local and editable"]),
    "--editable=": ("", "--editable=git+https://example.invalid/x\n", {}, ["local and editable"]),
    "garbage": ("", "fastapi 0.1\n", {}, ["can't read the requirement"]),
    "variable in name": ("", "${PKG}==1.0\n", {}, ["can't read the requirement"]),
    "not utf-8": ("", b"fastapi\n\xff\xfe\n", {}, ["not UTF-8"]),
    "latin-1 comment": ("", b"# caf\xe9\nfastapi\n", {}, ["not UTF-8"]),
    "control char": ("", "fastapi\x1b[31m\n", {}, ["control character"]),
    "requirements file is .env": ("[python]\nrequirements = ['.env']\n", None, {}, ["secrets"]),
    "requirements in .devenv": (
        "[python]\nrequirements = ['.devenv/r.txt']\n",
        None,
        {},
        [".devenv/"],
    ),
    "requirements is a key": ("[python]\nrequirements = ['server.key']\n", None, {}, ["secrets"]),
}

VALID_REQUIREMENTS: dict[str, tuple[str, dict[str, str], set[str]]] = {
    # requirements.txt, extra files, the requirement names devenv must see
    "quoted include": ('-r "sub dir/x.txt"\n', {"sub dir/x.txt": "fastapi\n"}, {"fastapi"}),
    "attached include": ("-rsub/x.txt\n", {"sub/x.txt": "httpx\n"}, {"httpx"}),
    "include loop": (
        "-r a.txt\nfastapi\n",
        {"a.txt": "-r requirements.txt\nhttpx\n"},
        {"fastapi", "httpx"},
    ),
    "self include": ("-r requirements.txt\nfastapi\n", {}, {"fastapi"}),
    "bom": ("\ufefffastapi==0.115.6\n", {}, {"fastapi"}),
    "bom then option": ("\ufeff--pre\nfastapi\n", {}, {"fastapi"}),
    "hashes": ("fastapi==0.115.6 --hash=sha256:" + "0" * 64 + "\n", {}, {"fastapi"}),
    "hash continuation": (
        "fastapi==0.115.6 \\\n    --hash=sha256:" + "0" * 64 + "\n",
        {},
        {"fastapi"},
    ),
    "markers": ("fastapi ; python_version >= '3.8'\n", {}, {"fastapi"}),
    "tab comment": ("fastapi\t# the web framework\n", {}, {"fastapi"}),
    "extras": ("psycopg[binary,pool]>=3.2\n", {}, {"psycopg"}),
    "abbreviated --prefer": ("--prefer\nfastapi\n", {}, {"fastapi"}),
    "only-binary": ("--only-binary :all:\nfastapi\n", {}, {"fastapi"}),
    "constraint": (
        "-c constraints.txt\nfastapi\n",
        {"constraints.txt": "fastapi<1\n"},
        {"fastapi"},
    ),
}


@pytest.mark.parametrize("case", sorted(REQUIREMENTS))
def test_hostile_requirements_are_refused(make_project: MakeProject, case: str) -> None:
    toml, requirements, extra, fragments = REQUIREMENTS[case]
    project = make_project(toml)
    (project / "outside.txt").unlink(missing_ok=True)
    if isinstance(requirements, bytes):
        (project / "requirements.txt").write_bytes(requirements)
    elif requirements is not None:
        (project / "requirements.txt").write_text(requirements)
    for name, content in extra.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(content) if isinstance(content, str) else None
    (project.parent / "outside.txt").write_text("evil\n")
    before = tree(project)
    code, err = generate(project)
    assert_one_line(code, err, "[python] requirements", *fragments)
    assert tree(project) == before


@pytest.mark.parametrize("case", sorted(VALID_REQUIREMENTS))
def test_requirements_pip_accepts_still_work(make_project: MakeProject, case: str) -> None:
    requirements, extra, names = VALID_REQUIREMENTS[case]
    project = make_project("[python]\nsmoke = []\n", requirements)
    for name, content in extra.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(content)
    plan = load_plan(project)
    assert plan.requirements.names() == names
    code, err = generate(project)
    assert code == 0, err
    for name in extra:
        assert f"!{name}\n" in (project / ".dockerignore").read_text()


def test_sources_are_allowed_when_the_plan_says_so(make_project: MakeProject) -> None:
    project = make_project(
        "[python]\nallow_index_options = true\nsmoke = []\n",
        "-ihttp://example.invalid/simple\n--extra x\nx @ https://example.invalid/x.whl\n"
        "git+https://example.invalid/y.git#egg=y\n",
    )
    assert load_plan(project).requirements.names() == {"x"}
    # Still never local files, the image can't build them.
    (project / "requirements.txt").write_text("-e .\n")
    assert generate(project)[0] == 2


# --- names and image paths -----------------------------------------------------------------

PLANS: dict[str, tuple[str, list[str]]] = {
    "user root": ("[environment]\nuser = 'root'\n", ["[environment] user", "system account"]),
    "user daemon": ("[environment]\nuser = 'daemon'\n", ["system account"]),
    "user www-data": ("[environment]\nuser = 'www-data'\n", ["[environment] user"]),
    "user nobody": ("[environment]\nuser = 'nobody'\n", ["system account"]),
    "user postgres": ("[environment]\nuser = 'postgres'\n", ["system account"]),
    "user too long": (f"[environment]\nuser = '{'u' * 33}'\n", ["at most 32"]),
    "user digit": ("[environment]\nuser = '1dev'\n", ["[environment] user"]),
    "user upper": ("[environment]\nuser = 'Dev'\n", ["[environment] user"]),
    "role pg_": ("[postgres]\nuser = 'pg_monitor'\n", ["[postgres] user", "reserves"]),
    "role public": ("[postgres]\nuser = 'public'\n", ["reserves"]),
    "role current_user": ("[postgres]\nuser = 'current_user'\n", ["reserves"]),
    "db template1": ("[postgres]\ndatabase = 'template1'\n", ["[postgres] database", "template"]),
    "smoke keyword": ("[python]\nsmoke = ['class']\n", ["[python] smoke", "keyword"]),
    "smoke dotted keyword": ("[python]\nsmoke = ['pkg.import']\n", ["keyword"]),
    "smoke None": ("[python]\nsmoke = ['None']\n", ["keyword"]),
    "name _-": ("[environment]\nname = 'a_-b'\n", ["[environment] name"]),
    "name trailing _": ("[environment]\nname = 'app_'\n", ["[environment] name"]),
    "name ___": ("[environment]\nname = 'a___b'\n", ["[environment] name"]),
    "name too long": (f"[environment]\nname = '{'a' * 64}'\n", ["[environment] name"]),
    "name dot": ("[environment]\nname = 'a.b'\n", ["[environment] name"]),
    "venv /": ("[python]\ncontainer_venv = '/'\n", ["container_venv"]),
    "venv /etc": ("[python]\ncontainer_venv = '/etc'\n", ["container_venv", "system folder"]),
    "venv in /etc": ("[python]\ncontainer_venv = '/etc/venv'\n", ["system folder"]),
    "venv /proc/x": ("[python]\ncontainer_venv = '/proc/self'\n", ["system folder"]),
    "venv /usr": ("[python]\ncontainer_venv = '/usr'\n", ["system folder"]),
    "venv /tmp": ("[python]\ncontainer_venv = '/tmp'\n", ["system folder"]),
    "venv home": ("[python]\ncontainer_venv = '/home/dev'\n", ["home"]),
    "venv is workspace": ("[python]\ncontainer_venv = '/workspace'\n", ["overlap"]),
    "venv in workspace": ("[python]\ncontainer_venv = '/workspace/.venv'\n", ["overlap"]),
    "workspace holds venv": ("[devcontainer]\nworkspace = '/opt'\n", ["workspace"]),
    "workspace /": ("[devcontainer]\nworkspace = '/'\n", ["workspace"]),
    "workspace /etc": ("[devcontainer]\nworkspace = '/etc'\n", ["workspace", "system folder"]),
    "workspace home": ("[devcontainer]\nworkspace = '/home/dev'\n", ["workspace", "home"]),
    "workspace /home": ("[devcontainer]\nworkspace = '/home'\n", ["workspace"]),
    "workspace dotdot": ("[devcontainer]\nworkspace = '/x/../etc'\n", ["workspace"]),
    "workspace in db data": (
        "[devcontainer]\nworkspace = '/var/lib/postgresql/data'\n",
        ["system folder"],
    ),
}

PLANS.update(
    {
        "bidi in mirror": ("[environment]\nmirror = 'http://x/\u202egpj.exe'\n", ["control"]),
        "isolate in mirror": ("[environment]\nmirror = 'http://x/\u2066a'\n", ["control"]),
        "C1 in mirror": ("[environment]\nmirror = 'http://x/\u009b31m'\n", ["control"]),
        "line separator": ("[environment]\nmirror = 'http://x/\u2028a'\n", ["control"]),
        "newline in key": ('[python]\n"a\\nb" = 1\n', ["[python]", "unknown key"]),
        "escape in key": ('[python]\n"a\\u001b[2J" = 1\n', ["unknown key"]),
        "escape in section": ('["\\u001b[2J"]\nx = 1\n', ["unknown section"]),
    }
)

VALID_PLANS = {
    "user alice": "[environment]\nuser = 'alice'\n",
    "user 32": f"[environment]\nuser = '{'u' * 32}'\n",
    "role app_user": "[postgres]\nuser = 'app_user'\n",
    "db postgres": "[postgres]\ndatabase = 'postgres'\n",
    "name a__b": "[environment]\nname = 'a__b'\n",
    "name a--b": "[environment]\nname = 'a--b'\n",
    "name 63": f"[environment]\nname = '{'a' * 63}'\n",
    "venv in home": "[python]\ncontainer_venv = '/home/dev/venv'\n",
    "venv /usr/local/venv": "[python]\ncontainer_venv = '/usr/local/venv'\n",
    "workspaces/x": "[devcontainer]\nworkspace = '/workspaces/app'\n",
    "smoke match": "[python]\nsmoke = ['match', 'fastapi']\n",
}


@pytest.mark.parametrize("case", sorted(PLANS))
def test_hostile_names_and_paths_are_refused(make_project: MakeProject, case: str) -> None:
    toml, fragments = PLANS[case]
    project = make_project(toml)
    before = tree(project)
    code, err = generate(project)
    assert_one_line(code, err, *fragments)
    assert tree(project) == before


@pytest.mark.parametrize("case", sorted(VALID_PLANS))
def test_valid_names_and_paths_still_work(make_project: MakeProject, case: str) -> None:
    code, err = generate(make_project(VALID_PLANS[case]))
    assert code == 0, err


@pytest.mark.parametrize(
    "folder",
    ["My App", "a_-b", "x___y", "-_-", "__init__", "Ünïcode", "a" * 80, "a" * 62 + "_b", "..."],
)
def test_a_derived_environment_name_is_always_valid(
    make_project: MakeProject, tmp_path: Path, folder: str
) -> None:
    name = validate.slug(folder)
    assert validate.env_name(name) == name
    project = make_project("", name=folder.replace("/", "_")) if folder != "..." else None
    if project is not None:
        plan = load_plan(project)
        for target in ("dev", "db"):
            validate.image_ref(plan.image(target))


# --- generated files: a path is never read as a flag or as several paths ------------------

BAD_PATHS = ["-x.txt", "sub/--from=base", "a$HOME.txt", "r*.txt", "r?.txt", "r[1].txt", "a\\b"]
BAD_PATHS += ["#r.txt", "trailing .txt ", " lead.txt", "r\u202e.txt", "r\u2028.txt", "r\x85.txt"]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_requirement_paths_that_a_dockerfile_would_misread_are_refused(
    make_project: MakeProject, path: str
) -> None:
    project = make_project(f"[python]\nrequirements = [{path!r}]\n")
    with contextlib.suppress(OSError):
        (project / path).write_text("fastapi\n")
    before = tree(project)
    code, err = generate(project)
    assert_one_line(code, err, "[python] requirements")
    assert tree(project) == before
    # The same name reached through -r is refused too.
    (project / "devenv.toml").write_text("")
    (project / "requirements.txt").write_text(f'-r "{path}"\n')
    code, err = generate(project)
    assert code == 2, err


def test_a_path_with_a_space_is_copied_in_json_form(make_project: MakeProject) -> None:
    import shutil
    import subprocess

    from docker.utils.build import exclude_paths

    project = make_project("[python]\nsmoke = []\n", '-r "sub dir/dev reqs.txt"\n')
    (project / "sub dir").mkdir()
    (project / "sub dir/dev reqs.txt").write_text("fastapi\n")
    assert generate(project)[0] == 0
    dockerfile = (project / "docker/Dockerfile").read_text()
    assert (
        'COPY --chown=dev:dev ["sub dir/dev reqs.txt", '
        '"/opt/devenv/requirements/sub dir/dev reqs.txt"]' in dockerfile
    )
    lines = (project / ".dockerignore").read_text().splitlines()
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert "sub dir/dev reqs.txt" in exclude_paths(str(project), patterns, "docker/Dockerfile")
    hadolint = shutil.which("hadolint")
    assert hadolint
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "warning", "docker/Dockerfile"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


# --- one image-reference grammar for the plan and the engine ------------------------------

REFS = [
    "ubuntu:24.04",
    "debian:trixie",
    "localhost:5000/team/base:1",
    "devenv/app-dev:latest",
    "ubuntu",
    "ubuntu:24.04@sha256:" + "a" * 64,
    "ubuntu@sha256:" + "a" * 64,
    "Ubuntu:24.04",
    "ubuntu:",
    ":24.04",
    "ubuntu:24.04 ",
    "ubuntu:24.04\n",
    "--help",
    "ubuntu:-x",
    "a//b",
    "x" * 256,
]


@pytest.mark.parametrize("ref", REFS)
def test_plan_and_engine_accept_the_same_image_references(ref: str) -> None:
    from devenv.container.engine import split_ref
    from devenv.errors import EngineError

    try:
        validate.image_ref(ref)
        plan_ok = True
    except ValueError:
        plan_ok = False
    try:
        split_ref(ref)
        engine_ok = True
    except EngineError:
        engine_ok = False
    assert plan_ok == engine_ok
    assert plan_ok == (ref in REFS[:5])


def test_a_digest_pinned_base_is_one_line_pointing_to_devenv_lock(
    make_project: MakeProject,
) -> None:
    project = make_project(f"[environment]\nbase = 'ubuntu:24.04@sha256:{'a' * 64}'\n")
    code, err = generate(project)
    assert_one_line(code, err, "[environment] base", "devenv lock")


# --- errors stay one line, printable, cut ---------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["generate", "--bogus"],
        ["build", "--target", "\x1b[2Jx"],
        ["build", "--target", "a\nb"],
        ["no-such-command\u202e"],
        ["verify", "--timeout", "0"],
    ],
)
def test_usage_errors_are_one_printable_line(make_project: MakeProject, args: list[str]) -> None:
    from click.testing import CliRunner

    from devenv.cli import cli

    result = CliRunner().invoke(cli, ["-C", str(make_project()), *args])
    assert_one_line(result.exit_code, result.stderr)


def test_a_long_value_is_cut(make_project: MakeProject) -> None:
    project = make_project(f"[python]\nsmoke = ['{'x' * 5000}-']\n")
    code, err = generate(project)
    assert_one_line(code, err, "[python] smoke", "…")
