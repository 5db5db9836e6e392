"""Issue 24: the day-two surface is as safe as the plan. Engine-free: env files, local
overrides, init folders, `devenv run`, setup tasks and the container user, tried with hostile and
with valid inputs. The env-file reader is compared with real Compose (`docker compose config`
needs no engine) where the CLI plugin is installed.

Categories (see the module's sections): 1 the tools' environment, 2 paths inside the project,
3 the env-file reader and `$`, 4 setup tasks, 5 bounded reads and one-line errors, 6 the
container user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devenv.cli import cli
from devenv.errors import PlanError, UnsafePathError
from devenv.fs import safety
from devenv.plan import envfiles
from devenv.plan.model import load_plan
from devenv.render.compose import render_compose, render_local_compose
from devenv.render.scripts import AS_USER, AS_USER_COMMAND
from devenv.render.tasks import render_script
from tests.conftest import MakeProject

TRIXIE = '[environment]\nbase = "debian:trixie"\n[postgres]\nversion = 17\n'


def cli_run(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-C", str(root), *args])
    return result.exit_code, result.output


def one_line_exit_2(code: int, output: str) -> None:
    assert code == 2, output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output


def fake_venv(root: Path) -> None:
    """What `devenv run --host` checks for: the host venv's python."""
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(shutil.which("python3") or "/usr/bin/python3")


# -- 1. only devenv decides the environment of docker and compose ------------------------------

FAKE_DOCKER = """#!/bin/sh
# Answers what devenv asks compose; records the environment and argv of `exec`.
for arg; do
    case "$arg" in
    version) echo 2.40.3; exit 0 ;;
    ps)
        printf '%s\n' '{"Service":"app","Name":"a","State":"running"}' \
            '{"Service":"db","Name":"d","State":"running"}'
        exit 0 ;;
    exec) env > "$RECORD.env"; printf '%s\\n' "$@" > "$RECORD.argv"; exit 7 ;;
    esac
done
exit 0
"""


@pytest.mark.parametrize(
    "dotenv",
    [
        "DOCKER_HOST=tcp://203.0.113.9:2375\n",
        "DOCKER_CONFIG=./evil-config\n",
        "COMPOSE_PROJECT_NAME=someone-else\n",
        "COMPOSE_FILE=other.yaml\n",
        "DOCKER_CONTEXT=elsewhere\n",
    ],
)
def test_project_values_never_reach_dockers_environment(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dotenv: str
) -> None:
    """Hostile: `.env` and `[env] vars` naming the docker CLI's own settings. They reach the
    app (through the run's env file) and never docker's process."""
    root = make_project(TRIXIE + '[env]\nvars = { DOCKER_TLS_VERIFY = "1", APP_MODE = "dev" }\n')
    (root / ".env").write_text(dotenv + "API_TOKEN=s3cret\n")
    (root / "compose.yaml").write_text("name: proj\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    record = tmp_path / "record"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("RECORD", str(record))
    for name in ("DOCKER_HOST", "DOCKER_CONFIG", "COMPOSE_PROJECT_NAME", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    code, output = cli_run(root, "run", "--container", "--", "printenv")
    assert code == 7, output
    seen = dict(
        line.split("=", 1) for line in (record.with_suffix(".env")).read_text().splitlines()
        if "=" in line
    )  # fmt: skip
    key = dotenv.split("=", 1)[0]
    assert key not in seen and "DOCKER_TLS_VERIFY" not in seen and "API_TOKEN" not in seen
    argv = record.with_suffix(".argv").read_text()
    assert "s3cret" not in argv and dotenv.split("=", 1)[1].strip() not in argv
    assert "--project-name\nproj\n--env-file\n/dev/null\n" in argv
    assert not list((root / ".devenv" / "run").iterdir())  # the run's env file is gone


def test_the_runs_env_file_carries_every_value_quoted(make_project: MakeProject) -> None:
    """Valid: values with quotes, newlines, `$` and spaces reach the command as written."""
    from devenv.run.command import env_script

    values = {"A": "it's $HOME", "B": "two\nlines", "C": "", "D": "x=y; rm -rf /"}
    script = env_script(values, "/workspace/.devenv/run/x.env")
    out = subprocess.run(
        ["sh", "-c", script.replace("/bin/rm", ": rm") + 'printf "%s|" "$A" "$B" "$C" "$D"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == "it's $HOME|two\nlines||x=y; rm -rf /|"


# -- 2. every file resolves inside the project -------------------------------------------------


@pytest.mark.parametrize("where", [".env", "shared.env"])
def test_an_env_file_symlinked_out_of_the_project_is_refused(
    make_project: MakeProject, tmp_path: Path, where: str
) -> None:
    secret = tmp_path / "secret.env"
    secret.write_text("TOKEN=outside-secret\n")
    root = make_project(TRIXIE + '[env]\nfiles = ["shared.env"]\n')
    (root / "shared.env").write_text("A=1\n")
    (root / where).unlink(missing_ok=True)
    (root / where).symlink_to(secret)
    fake_venv(root)
    code, output = cli_run(root, "run", "--host", "--", "printenv", "TOKEN")
    one_line_exit_2(code, output)
    assert "leads outside the project" in output and "outside-secret" not in output


def test_an_env_file_symlinked_inside_the_project_is_read(make_project: MakeProject) -> None:
    root = make_project(TRIXIE)
    (root / "config").mkdir()
    (root / "config" / "dev.env").write_text("A=inside\n")
    (root / ".env").symlink_to("config/dev.env")
    assert envfiles.layered(root, (), ()) == {"A": "inside"}


def test_run_never_writes_through_a_symlinked_devenv_folder(
    make_project: MakeProject, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    root = make_project(TRIXIE)
    (root / ".devenv").symlink_to(outside)
    (root / "compose.yaml").write_text("name: proj\n")
    from devenv.files.local import write_local_compose

    with pytest.raises(UnsafePathError, match="is a symlink"):
        write_local_compose(load_plan(root))
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    ("folders", "says"),
    [
        ('["db", "db/"]', "again"),
        ('["db", "./db"]', "again"),
        ('["db", "db/."]', "again"),
        ('["./db/", "db"]', "again"),
        ('["db", "db/more"]', "overlap"),
        ('["docker"]', "devenv or git owns"),
        ('[".devenv"]', "devenv or git owns"),
        ('[".devcontainer"]', "devenv or git owns"),
        ('[".git"]', "devenv or git owns"),
        ('["."]', "plain names"),
        ('["db/../db"]', "relative path inside"),
    ],
)
def test_init_folders_are_normalised_and_devenvs_own_refused(
    make_project: MakeProject, folders: str, says: str
) -> None:
    root = make_project(TRIXIE.replace("version = 17\n", f"version = 17\ninit = {folders}\n"))
    for name in ("db/more", "docker", ".devenv", ".devcontainer", ".git"):
        (root / name).mkdir(parents=True, exist_ok=True)
    code, output = cli_run(root, "plan")
    one_line_exit_2(code, output)
    assert says in output


@pytest.mark.parametrize("spelling", ["db", "db/", "./db", "db/."])
def test_each_spelling_of_an_init_folder_is_the_same_folder(
    make_project: MakeProject, spelling: str
) -> None:
    root = make_project(TRIXIE.replace("version = 17\n", f'version = 17\ninit = ["{spelling}"]\n'))
    (root / "db").mkdir()
    (root / "db" / "1.sql").write_text("SELECT 1;\n")
    assert load_plan(root).postgres.init == ("db",)


def test_an_init_file_symlinked_out_of_the_project_is_refused(
    make_project: MakeProject, tmp_path: Path
) -> None:
    (tmp_path / "evil.sh").write_text("echo outside\n")
    root = make_project(TRIXIE.replace("version = 17\n", 'version = 17\ninit = ["db"]\n'))
    (root / "db").mkdir()
    (root / "db" / "01.sh").symlink_to(tmp_path / "evil.sh")
    code, output = cli_run(root, "plan")
    one_line_exit_2(code, output)
    assert "leads outside the project" in output


def test_an_env_file_in_devenvs_own_folder_is_refused(make_project: MakeProject) -> None:
    root = make_project(TRIXIE + '[env]\nfiles = [".devenv/db.env"]\n')
    code, output = cli_run(root, "plan")
    one_line_exit_2(code, output)
    assert "devenv or git owns" in output


# -- 3. one env-file reader, as Compose reads -------------------------------------------------

# Lines Compose accepts; devenv must give the same value or refuse with a reason.
CORPUS = [
    "A=plain",
    "A=a b  ",
    "A=x #comment",
    "A=x\t# not a comment for Compose",
    "A=x#y",
    "A=#x",
    "A= #x",
    "A=",
    "A=''",
    'A=""',
    "export A=1",
    "export  A=1",
    "export\tA=1",
    "A = 1",
    "A: yaml style",
    "A=1=2",
    "A==1",
    "  A=indented",
    "A=x\\ny",
    "A=a\\",
    "A=\\u00e9",
    "A='lit $HOME \\n # kept'",
    "A='it\\'s'",
    "A='x\\\\y'",
    'A="x\\ny"',
    'A="x\\ty"',
    'A="x\\ry"',
    'A="x\\qy"',
    'A="x\\$y"',
    'A="x\\\\y"',
    'A="x\\"y"',
    'A="x\\\'y"',
    'A="\\0101"',
    'A="\\012"',
    'A="\\0"',
    'A="x" # c',
    'A="x"\t#c',
    "A='x'  #y",
    'A=" x "',
    "A=a$$b",
    'A="a$$b"',
    "A='a$$b'",
    'A="multi\nline"',
    "A='multi\nline'",
    "A=café ünïcode",
    "A=x\r",
    "\ufeffA=bom",
    "# only a comment",
    "A=$HOME",
    'A="${X}"',
    "A=a$",
    "A.B=1",
    "A-B=1",
    "1A=2",
    'A="x\\ay"',
    "A=tab\tinside",
    'A="open',
    "A='open",
    "A B=1",
    'A="x\\"',
    "A=1\nB C=2",
]


def compose_reads(tmp_path: Path, lines: Sequence[str]) -> list[dict[str, str] | None]:
    """What Compose gives a service for each env file (None: Compose refuses the file), in
    one `docker compose config` call when it can."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("the docker CLI is not installed")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("the Compose v2 plugin is not installed")

    def config(items: Sequence[tuple[int, str]]) -> dict[int, dict[str, str]] | None:
        folder = Path(tempfile.mkdtemp(prefix="c", dir=tmp_path))
        services = {}
        for n, line in items:
            (folder / f"{n}.env").write_bytes(line.encode())
            services[f"s{n}"] = {"image": "busybox", "env_file": [f"{n}.env"]}
        (folder / "compose.yaml").write_text(json.dumps({"name": "hf-probe", "services": services}))
        done = subprocess.run(
            [docker, "compose", "--project-directory", str(folder), "-f",
             str(folder / "compose.yaml"), "--env-file", os.devnull, "config", "--format",
             "json"],
            capture_output=True, text=True, check=False,
            env={"PATH": os.environ["PATH"], "HOME": str(folder)},
        )  # fmt: skip
        if done.returncode != 0:
            return None
        data = json.loads(done.stdout)["services"]
        # config prints every `$` as `$$`
        return {
            n: {k: (v or "").replace("$$", "$") for k, v in (data[f"s{n}"].get("environment")
                                                             or {}).items()}
            for n, _ in items
        }  # fmt: skip

    numbered = list(enumerate(lines))
    together = config(numbered)
    if together is not None:
        return [together[n] for n, _ in numbered]
    out: list[dict[str, str] | None] = []
    for item in numbered:
        alone = config([item])
        out.append(None if alone is None else alone[item[0]])
    return out


def devenv_reads(line: str) -> dict[str, str] | None:
    try:
        return dict(envfiles.parse(line, ".env"))
    except PlanError:
        return None


def test_the_reader_matches_compose_on_every_line_both_accept(tmp_path: Path) -> None:
    """Each line alone as a file: where devenv accepts it, Compose gives the same values; where
    Compose refuses it, devenv refuses it too."""
    theirs = compose_reads(tmp_path, CORPUS)
    agreed = refused = 0
    for line, compose in zip(CORPUS, theirs, strict=True):
        ours = devenv_reads(line)
        if compose is None:
            assert ours is None, f"devenv accepts {line!r}, which Compose refuses"
            refused += 1
        elif ours is not None:
            assert ours == compose, line
            agreed += 1
    assert agreed >= 40 and refused >= 1


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("A=$HOME", "Compose would substitute it"),
        ('A="${X}"', "Compose would substitute it"),
        ("A=a$", "Compose would substitute it"),
        ("A", "copy it from the environment"),
        ("A.B=1", "expected KEY=VALUE"),
        ('A="x"y', "only a comment may follow"),
        ('A="x" B=2', "only a comment may follow"),
        ('A="x\\ay"', "control character"),
        ("A=\x1b[31m", "control character"),
        ("PATH=/evil", "set by devenv"),
        ("VIRTUAL_ENV=/x", "set by devenv"),
        ("A=\x00", "NUL"),
        ("A=" + "x" * (130 * 1024), "over 127 KiB"),
    ],
)
def test_lines_devenv_refuses_name_the_line(line: str, says: str) -> None:
    with pytest.raises(PlanError) as caught:
        envfiles.parse(f"OK=1\n{line}\n", "/p/.env")
    assert caught.value.message.startswith("/p/.env:2: ") and says in caught.value.message


SAFE_CHARS = st.sampled_from([*"aZ09_ -.:/=#'\"\\$\t", "é", "\u00a0", "x"])
VALUES = st.text(SAFE_CHARS, max_size=12)
KEYS = st.from_regex(r"[A-Z_][A-Z0-9_]{0,5}", fullmatch=True)
QUOTES = st.sampled_from(["", "'", '"'])


@st.composite
def env_files(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        quote = draw(QUOTES)
        prefix = draw(st.sampled_from(["", "export ", "  "]))
        tail = draw(st.sampled_from(["", " # note", "  "]))
        lines.append(f"{prefix}{draw(KEYS)}={quote}{draw(VALUES)}{quote}{tail}")
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n"]))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=env_files())
def test_property_generated_env_files_read_as_compose_reads_them(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    """Property: any env file devenv accepts, Compose reads to the same values (and whatever
    Compose refuses, devenv refuses)."""
    ours = devenv_reads(text)
    [theirs] = compose_reads(tmp_path_factory.mktemp("prop"), [text])
    if theirs is None:
        assert ours is None, text
    elif ours is not None:
        assert ours == theirs, text


SETTING_VALUES = st.one_of(
    st.text(st.sampled_from(list("ab$ {}:/")), max_size=10),
    st.sampled_from(["${localEnv:HOME}", "${HOME}", "$$", "a$b", "${containerWorkspaceFolder}"]),
    st.integers(-5, 5),
    st.booleans(),
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    team=st.dictionaries(st.sampled_from(["a.b", "c.d", "e"]), SETTING_VALUES, max_size=3),
    mine=st.dictionaries(st.sampled_from(["a.b", "x.y"]), SETTING_VALUES, min_size=1, max_size=3),
    port=st.integers(56600, 56699),
)
def test_property_local_overrides_give_compose_files_compose_accepts(
    tmp_path_factory: pytest.TempPathFactory,
    team: dict[str, object],
    mine: dict[str, object],
    port: int,
) -> None:
    """Property: the team's settings and a devenv.local.toml with any settings (`$` included)
    give compose files Compose accepts, and the metadata label reaches the container as
    written (no `$` substituted from the machine's environment)."""
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True,
                                        check=False).returncode:  # fmt: skip
        pytest.skip("the Compose v2 plugin is not installed")
    root = tmp_path_factory.mktemp("local") / "proj"
    root.mkdir()
    (root / "requirements.txt").write_text("")

    def toml(table: dict[str, object]) -> str:
        return "".join(f"{json.dumps(k)} = {json.dumps(v)}\n" for k, v in table.items())

    (root / "devenv.toml").write_text(TRIXIE + "[devcontainer]\n[devcontainer.settings]\n"
                                      + toml(team))  # fmt: skip
    (root / "devenv.local.toml").write_text(
        f"[postgres]\nhost_port = {port}\n[devcontainer.settings]\n" + toml(mine)
    )
    plan = load_plan(root)
    (root / "compose.yaml").write_text(render_compose(plan))
    (root / "local.yaml").write_text(render_local_compose(plan))
    done = subprocess.run(
        [docker, "compose", "--project-directory", str(root), "-f", str(root / "compose.yaml"),
         "-f", str(root / "local.yaml"), "--env-file", os.devnull, "config", "--format", "json"],
        capture_output=True, text=True, check=False,
        env={"PATH": os.environ["PATH"], "HOME": "/home/someone-else"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    label = json.loads(done.stdout)["services"]["app"]["labels"]["devcontainer.metadata"]
    entries = json.loads(label.replace("$$", "$"))
    settings_seen = entries[1]["customizations"]["vscode"]["settings"]
    assert settings_seen == {**mine}


def test_a_dollar_in_env_vars_is_literal_in_both_modes(make_project: MakeProject) -> None:
    root = make_project(TRIXIE + '[env]\nvars = { PRICE = "5$", REF = "${HOME}" }\n')
    plan = load_plan(root)
    data = yaml.safe_load(render_compose(plan))
    assert data["services"]["app"]["environment"]["PRICE"] == "5$$"
    assert data["services"]["app"]["environment"]["REF"] == "$${HOME}"
    assert dict(plan.env.vars) == {"PRICE": "5$", "REF": "${HOME}"}  # the host's, as written


# -- 4. setup tasks: one way to run, in every mode ---------------------------------------------


@pytest.mark.parametrize(
    ("task", "says"),
    [
        ("exit 0", "a shell word"),
        ("cd sub", "a shell word"),
        ("eval 'a; b'", "a shell word"),
        ("source env.sh", "a shell word"),
        (". env.sh", "a shell word"),
        ("export A=1", "a shell word"),
        ("set -e", "a shell word"),
        ("A=1 pytest", "sets a variable"),
        ("pytest -q # note", "'#' would be passed"),
        ("pytest; rm -rf /", "';'"),
        ("a && b", "'&&'"),
        ("echo $HOME", "'$'"),
        ("x" * 5000, "over 4096 characters"),
    ],
)
def test_tasks_a_shell_would_read_differently_are_refused(
    make_project: MakeProject, task: str, says: str
) -> None:
    root = make_project(TRIXIE + f"[tasks]\nsetup = [{json.dumps(task)}]\n")
    code, output = cli_run(root, "plan")
    one_line_exit_2(code, output)
    assert says in output


@pytest.mark.parametrize(
    "task", ["alembic upgrade head", 'pytest -k "a#b"', "python -c 'print(1)'", "./setup.sh --x=1"]
)
def test_plain_tasks_are_accepted(make_project: MakeProject, task: str) -> None:
    root = make_project(TRIXIE + f"[tasks]\nsetup = [{json.dumps(task)}]\n")
    assert load_plan(root).tasks.setup == (task,)


def test_a_megabyte_task_is_refused_at_once(make_project: MakeProject) -> None:
    root = make_project(TRIXIE + f"[tasks]\nsetup = [{json.dumps('a ' * 500_000)}]\n")
    started = time.monotonic()
    code, output = cli_run(root, "plan")
    assert time.monotonic() - started < 10
    one_line_exit_2(code, output)


def test_vscodes_script_execs_each_task_as_a_program_like_devenv(
    make_project: MakeProject, tmp_path: Path
) -> None:
    """The script VS Code runs, run here with sh: a task named like a builtin (which the plan
    refuses) would still be looked up as a program, as the host runner and setpriv do."""
    root = make_project(TRIXIE + '[tasks]\nsetup = ["true", "printf ran"]\n')
    plan = load_plan(root)
    script = render_script(plan).replace("run_task printf printf ran\n", "run_task exit exit 0\n")
    script = script.replace("run_task 'printf ran' printf ran\n", "run_task exit exit 0\n")
    assert 'env -- "$@"' in script
    (root / "docker").mkdir(exist_ok=True)
    (root / "docker" / "setup-tasks.sh").write_text(script)
    done = subprocess.run(["sh", str(root / "docker" / "setup-tasks.sh")], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 127, done.stdout + done.stderr  # not found, not the shell's exit


# -- 5. bounded reads, no tracebacks, one-line usage errors ------------------------------------


def test_a_fifo_as_env_file_is_refused_without_blocking(make_project: MakeProject) -> None:
    root = make_project(TRIXIE)
    os.mkfifo(root / ".env")
    fake_venv(root)
    started = time.monotonic()
    code, output = cli_run(root, "run", "--host", "--", "true")
    assert time.monotonic() - started < 10
    one_line_exit_2(code, output)
    assert "not a regular file" in output


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_devices_are_not_read(device: str) -> None:
    with pytest.raises(UnsafePathError, match="not a regular file"):
        safety.read_bounded(Path(device), limit=1024, what="env file")


def test_a_huge_env_file_is_refused_after_reading_its_limit(make_project: MakeProject) -> None:
    root = make_project(TRIXIE)
    (root / ".env").write_bytes(b"A=" + b"x" * (envfiles.MAX_FILE + 10))
    with pytest.raises(UnsafePathError, match="over 1024 KiB"):
        envfiles.layered(root, (), ())


def test_a_plan_that_is_a_fifo_is_one_line(make_project: MakeProject) -> None:
    root = make_project(TRIXIE)
    (root / "devenv.toml").unlink()
    os.mkfifo(root / "devenv.toml")
    code, output = cli_run(root, "plan")
    one_line_exit_2(code, output)


def test_a_symlink_loop_for_dash_c_is_one_line(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    code, output = cli_run(loop, "plan")
    one_line_exit_2(code, output)


DEEP = ["a = " + "[" * 5000 + "]" * 5000, "x = " + "{a = " * 3000 + "1" + "}" * 3000]


@pytest.mark.parametrize("text", DEEP)
def test_a_plan_nested_thousands_deep_is_one_line(make_project: MakeProject, text: str) -> None:
    root = make_project(text)
    code, output = cli_run(root, "plan")
    one_line_exit_2(code, output)
    assert "nested too deep" in output or "invalid TOML" in output


@pytest.mark.parametrize(
    "line",
    [
        "# devenv: base ref",
        "# devenv: base =x",
        "# devenv: apt dev nover",
        "# devenv: apt dev",
        "# devenv: input nodigest",
        "# devenv:  python",
        "# devenv:",
        "# devenv: format 9",
    ],
)
def test_a_malformed_lock_header_is_one_line(make_project: MakeProject, line: str) -> None:
    root = make_project(TRIXIE)
    (root / "devenv.lock").write_text(f"# devenv: format 1\n{line}\nclick==8.1.7\n")
    code, output = cli_run(root, "plan")
    one_line_exit_2(code, output)
    assert "unreadable lock line" in output and "devenv.lock:2" in output


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ("[devcontainer.settings]\nwhen = 1979-05-27T07:32:00Z\n", "not JSON"),
        ("[devcontainer.settings]\nat = 07:32:00\n", "not JSON"),
        ('[devcontainer]\nworkspace = "/."\n', "absolute path of plain names"),
        ('[devcontainer]\nworkspace = "/work/./x"\n', "absolute path of plain names"),
        ('[environment]\nmirror = "http://"\n', "archive URL"),
        ('[environment]\nmirror = "https://:80/debian"\n', "archive URL"),
        ('[environment]\nmirror = "http://host:99999/debian"\n', "archive URL"),
        ('[environment]\nmirror = "ftp://host/debian"\n', "archive URL"),
        ('[environment]\nmirror = "file://relative/path"\n', "archive URL"),
        ('[env]\nvars = { PATH = "/x" }\n', "set by devenv"),
    ],
)
def test_remaining_plan_values_are_refused_in_one_line(
    make_project: MakeProject, toml: str, says: str
) -> None:
    if toml.startswith("[environment]\n"):
        plan = TRIXIE.replace("[environment]\n", toml)
    else:
        plan = TRIXIE + toml
    root = make_project(plan)
    code, output = cli_run(root, "plan")
    one_line_exit_2(code, output)
    assert says in output


@pytest.mark.parametrize(
    "mirror", ["http://deb.debian.org/debian", "https://10.0.0.1:3142/debian", "file:///srv/m"]
)
def test_mirror_urls_are_accepted(make_project: MakeProject, mirror: str) -> None:
    root = make_project(TRIXIE.replace("[environment]\n", f'[environment]\nmirror = "{mirror}"\n'))
    assert load_plan(root).environment.mirror == mirror


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["-C"],
        ["--debug", "--nope", "plan"],
        ["nosuch"],
        ["run", "--hots", "--", "true"],
    ],
)
def test_usage_errors_are_one_line(make_project: MakeProject, args: list[str]) -> None:
    root = make_project(TRIXIE)
    done = subprocess.run(
        ["python3", "-m", "devenv", *args], cwd=root, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("devenv: error: ") and len(done.stderr.splitlines()) == 1
    assert done.stdout == ""


def test_run_passes_options_after_the_command_to_it(make_project: MakeProject) -> None:
    root = make_project(TRIXIE)
    fake_venv(root)
    code = subprocess.run(
        ["python3", "-m", "devenv", "-C", str(root), "run", "--host", "sh", "-c", "exit 3"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    ).returncode  # fmt: skip
    assert code == 3


@pytest.mark.parametrize(("make", "code"), [("missing", 127), ("not-exec", 126), ("dir", 126)])
def test_run_on_the_host_exits_as_a_shell_would(
    make_project: MakeProject, make: str, code: int
) -> None:
    root = make_project(TRIXIE)
    fake_venv(root)
    if make == "not-exec":
        (root / "not-exec").write_text("#!/bin/sh\n")
    if make == "dir":
        (root / "dir").mkdir()
    done = subprocess.run(
        ["python3", "-m", "devenv", "-C", str(root), "run", "--host", "--", f"./{make}"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2 and "Traceback" not in done.stderr


def test_an_over_long_env_value_names_the_line_not_the_command(make_project: MakeProject) -> None:
    root = make_project(TRIXIE)
    (root / ".env").write_text("A=1\nBIG=" + "x" * 200_000 + "\n")
    fake_venv(root)
    code, output = cli_run(root, "run", "--host", "--", "true")
    one_line_exit_2(code, output)
    assert ".env:2: BIG" in output


# -- 6. the container user is you --------------------------------------------------------------


def test_tasks_run_and_shell_start_as_root_and_drop_to_the_callers_ids(
    make_project: MakeProject,
) -> None:
    from devenv.container.compose import Compose
    from devenv.flows.up import container_runner

    root = make_project(TRIXIE + '[tasks]\nsetup = ["touch setup-ran"]\n')
    (root / "compose.yaml").write_text("name: proj\n")
    plan = load_plan(root)
    seen: list[tuple[str, ...]] = []

    class Recording(Compose):
        def stream(self, *args: str) -> object:  # type: ignore[override]
            seen.append(args)
            from devenv.container.compose import Completed

            return Completed(code=0, output="")

    runner = container_runner(
        Recording(plan, log=lambda _: None, docker="docker"), plan, 1001, 1001
    )
    assert runner(["touch", "setup-ran"]) == (0, "")
    args = seen[0]
    assert args[:7] == ("exec", "-T", "--user", "root", "--workdir", "/workspace", "app")
    assert args[7:12] == ("sh", "-c", AS_USER, "as-user", "1001")
    assert args[12:14] == ("1001", "dev") and args[-2:] == ("touch", "setup-ran")


def test_the_user_mapping_scripts_are_posix_sh_and_shellcheck_clean(tmp_path: Path) -> None:
    from tests.unit.test_linters import tool

    for n, body in enumerate((AS_USER, AS_USER_COMMAND)):
        path = tmp_path / f"s{n}.sh"
        path.write_text("#!/bin/sh\n" + body)
        assert subprocess.run(["sh", "-n", str(path)], check=False).returncode == 0
        done = subprocess.run([tool("shellcheck"), "-S", "warning", str(path)],
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stdout


def test_the_command_wrapper_records_reads_and_execs(tmp_path: Path) -> None:
    """AS_USER_COMMAND as it runs after setpriv: PID recorded, the env file read (and removed
    by its own last line), the command exec'd with its argv untouched."""
    from devenv.run.command import env_script

    envfile = tmp_path / "run.env"
    envfile.write_text(env_script({"GREETING": "hi $there"}, str(envfile)))
    pidfile = tmp_path / "pid"
    done = subprocess.run(
        ["sh", "-c", AS_USER_COMMAND, str(pidfile), str(envfile), "sh", "-c",
         'printf "%s|%s" "$GREETING" "$1"', "sh", "a b"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.stdout == "hi $there|a b"
    assert pidfile.read_text().strip().isdigit() and not envfile.exists()


def test_attach_note_says_run_and_shell_are_you(make_project: MakeProject, tmp_path: Path) -> None:
    from devenv.flows.up import attach_lines

    text = "\n".join(attach_lines(load_plan(make_project(TRIXIE)), cwd=tmp_path, uid=0))
    assert "run as you (UID 0)" in text
