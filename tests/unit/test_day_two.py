"""Day two, without an engine: env files and their precedence, [tasks] setup, [env], the
devenv.local.toml overrides, and what they render to (and what they never change)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from devenv.cli import cli
from devenv.errors import PlanError
from devenv.plan import envfiles
from devenv.plan.model import Plan, Target, Tasks, load_plan
from devenv.render.compose import compose_data, render_local_compose, render_local_dockerfile
from devenv.render.devcontainer import devcontainer_data
from devenv.render.dockerfile import render_dockerfile
from devenv.render.files import render_all
from devenv.render.tasks import render_script
from devenv.run.command import HostDatabase, host_environment
from devenv.run.tasks import TaskError, run_tasks
from devenv.steps.recipe import compile_plan
from tests.conftest import MakeProject


def images(plan: Plan) -> tuple[str, str]:
    """The dev and db images' fingerprints (their `dev.devenv.plan` labels)."""
    recipe = compile_plan(plan)
    return recipe.fingerprint(Target.DEV), recipe.fingerprint(Target.DB)


# -- env files -------------------------------------------------------------------------------


def test_env_file_format() -> None:
    text = (
        "# a comment\n\nPLAIN=value  # trailing comment\nexport EXPORTED=yes\n"
        'SINGLE=\'lit $HOME # kept\'\nDOUBLE="a\\nb \\"q\\""\nEMPTY=\nSPACES =  x y \n'
        "PLAIN=later\n"
    )
    pairs = envfiles.parse(text, ".env")
    assert dict(pairs) == {
        "PLAIN": "later",
        "EXPORTED": "yes",
        "SINGLE": "lit $HOME # kept",
        "DOUBLE": 'a\nb "q"',
        "EMPTY": "",
        "SPACES": "x y",
    }


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("no equals sign", "Compose would copy it from the environment"),
        ("1ABC=x", "expected KEY=VALUE"),
        ("A=$HOME", "Compose would substitute it"),
        ('A="${X}"', "Compose would substitute it"),
        ("A='open", "does not close"),
        ('A="open', "does not close"),
        ("DATABASE_URL=postgresql://me@localhost/x", "set by devenv"),
        ("PGPASSWORD=x", "set by devenv"),
    ],
)
def test_env_file_errors_name_the_file_and_line(line: str, says: str) -> None:
    with pytest.raises(PlanError) as caught:
        envfiles.parse(f"OK=1\n{line}\n", "/p/.env")
    assert caught.value.message.startswith("/p/.env:2: ") and says in caught.value.message
    assert caught.value.exit_code == 2


def test_precedence_dotenv_then_named_files_then_plan_vars(make_project: MakeProject) -> None:
    root = make_project(
        """
        [env]
        files = [".env.shared", "config/local.env"]
        vars = { LAYER4 = "plan", FROM_PLAN = "plan" }
        """
    )
    (root / ".env").write_text("LAYER1=dotenv\nLAYER2=dotenv\nLAYER3=dotenv\nLAYER4=dotenv\n")
    (root / ".env.shared").write_text("LAYER2=shared\nLAYER3=shared\nLAYER4=shared\n")
    (root / "config").mkdir()
    (root / "config/local.env").write_text("LAYER3=local\nLAYER4=local\n")
    plan = load_plan(root)
    env = envfiles.layered(root, plan.env.files, plan.env.vars)
    assert env == {
        "LAYER1": "dotenv",
        "LAYER2": "shared",
        "LAYER3": "local",
        "LAYER4": "plan",
        "FROM_PLAN": "plan",
    }
    # The same order reaches compose: later env files win, `environment:` over all of them,
    # and the password file last (a user file can't replace the database's password).
    app = compose_data(plan)["services"]["app"]
    assert [f["path"] for f in app["env_file"]] == [
        ".env",
        ".env.shared",
        "config/local.env",
        ".devenv/db.env",
    ]
    assert [f["required"] for f in app["env_file"]] == [False, True, True, False]
    assert app["environment"]["LAYER4"] == "plan" and "DATABASE_URL" in app["environment"]
    assert "env_file" in compose_data(plan)["services"]["db"]  # the db gets only the password
    assert [f["path"] for f in compose_data(plan)["services"]["db"]["env_file"]] == [
        ".devenv/db.env"
    ]


def test_a_named_env_file_that_is_missing_is_one_line(make_project: MakeProject) -> None:
    root = make_project('[env]\nfiles = ["missing.env"]\n')
    plan = load_plan(root)
    with pytest.raises(PlanError, match=r"missing\.env: the env file"):
        envfiles.layered(root, plan.env.files, plan.env.vars)


def test_host_environment_layers_and_the_database_win(
    make_project: MakeProject,
) -> None:
    root = make_project('[env]\nvars = { FROM_PLAN = "plan" }\n')
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").write_text("")
    (root / ".env").write_text("FROM_PLAN=dotenv\nSHELL_VAR=file\n")
    db = HostDatabase(env=(("DATABASE_URL", "postgresql://me@/app?host=/run"),), note="")
    env = host_environment(
        load_plan(root), {"PATH": "/usr/bin", "SHELL_VAR": "shell", "PYTHONHOME": "/x"}, db
    )
    assert env["FROM_PLAN"] == "plan" and env["SHELL_VAR"] == "file"
    assert env["DATABASE_URL"] == "postgresql://me@/app?host=/run"
    assert env["PATH"] == f"{root / '.venv' / 'bin'}:/usr/bin" and "PYTHONHOME" not in env
    assert env["VIRTUAL_ENV"] == str(root / ".venv")


# -- the plan: [tasks], [env] -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('[tasks]\nsetup = ["alembic upgrade head | tee log"]\n', "'|' would not mean"),
        ('[tasks]\nsetup = ["make; rm -rf /"]\n', "';' would not mean"),
        ('[tasks]\nsetup = ["echo $HOME"]\n', "'$' would not mean"),
        ('[tasks]\nsetup = ["echo \'open"]\n', "is not a command line"),
        ('[tasks]\nsetup = [" "]\n', "empty command line"),
        ('[tasks]\nsetup = ["a", "a"]\n', "lists a value twice"),
        ('[tasks]\nsetup = ["bell\\u0007"]\n', "control"),
        ("[tasks]\nsetup = [1]\n", "items must be a string"),
        ("[tasks]\nsetpu = []\n", "did you mean 'setup'"),
        ('[env]\nfiles = ["../secrets.env"]\n', "inside the project"),
        ('[env]\nvars = { DATABASE_URL = "x" }\n', "set by devenv"),
        ('[env]\nvars = { "bad key" = "x" }\n', "not a variable name"),
        ("[env]\nvars = { A = 1 }\n", "must be a string"),
        ('[devcontainer]\nsettings = { "a b" = 1 }\n', "not a VS Code setting"),
    ],
)
def test_bad_day_two_keys_are_one_line_plan_errors(
    make_project: MakeProject, toml: str, says: str
) -> None:
    root = make_project(toml)
    result = CliRunner().invoke(cli, ["-C", str(root), "plan"])
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_tasks_split_like_a_shell_and_run_in_order_stopping_at_the_first_failure(
    make_project: MakeProject,
) -> None:
    plan = load_plan(
        make_project(
            """[tasks]
            setup = ["alembic upgrade head", "python -c 'print(1)'", "false", "never"]
            """
        )
    )
    assert plan.tasks.argvs()[1] == ("python", "-c", "print(1)")
    ran: list[Sequence[str]] = []

    def runner(argv: Sequence[str]) -> tuple[int, str]:
        ran.append(argv)
        return (1, "boom: the output") if argv[0] == "false" else (0, "")

    lines: list[str] = []
    with pytest.raises(TaskError) as caught:
        run_tasks(plan, runner, lines.append, "here")
    assert [a[0] for a in ran] == ["alembic", "python", "false"]
    message = caught.value.message
    assert "setup task 3/4 `false` failed with exit 1" in message
    assert "2 before it ran, 1 after it did not" in message
    assert "boom: the output" in caught.value.details
    assert "2/4 ran: alembic upgrade head" in caught.value.details

    two = dataclasses.replace(plan, tasks=Tasks(setup=plan.tasks.setup[:2]))
    ok = run_tasks(two, lambda a: (0, ""), lines.append, "here")
    assert ok.ok and ok.line().startswith("2/2 ran: alembic upgrade head (")


def test_the_vscode_task_script_runs_the_same_argvs(
    make_project: MakeProject, tmp_path: Path
) -> None:
    """The generated script, run by sh, gives each task exactly the argv devenv runs."""
    plan = load_plan(
        make_project(
            """[tasks]
            setup = ["printargs 'a b' \\"it's\\" '*'", "printargs second", "false",
                     "printargs never"]
            """
        )
    )
    project = tmp_path / "sh"
    (project / "docker").mkdir(parents=True)
    (project / "docker" / "setup-tasks.sh").write_text(render_script(plan))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "printargs").write_text('#!/bin/sh\nfor a; do printf "[%s]" "$a"; done; echo\n')
    (bin_dir / "printargs").chmod(0o755)
    done = subprocess.run(
        ["sh", "docker/setup-tasks.sh"],
        cwd=project,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "[a b][it's][*]" in done.stdout and "[second]" in done.stdout
    assert "never" not in done.stdout.replace("task 4", "")
    assert "task 3/4 failed (exit 1, " in done.stderr
    assert [p for p in plan.tasks.argvs()[0]] == ["printargs", "a b", "it's", "*"]


def test_tasks_render_a_post_start_command_and_nothing_without_them(
    make_project: MakeProject,
) -> None:
    same = "[environment]\nname = 'same'\n"
    with_tasks = load_plan(
        make_project(
            same + '[tasks]\nsetup = ["alembic upgrade head"]\n[env]\nvars={A="b"}\n', name="a"
        )
    )
    without = load_plan(make_project(same, name="b"))
    assert devcontainer_data(with_tasks)["postStartCommand"] == ["sh", "docker/setup-tasks.sh"]
    assert "postStartCommand" not in devcontainer_data(without)
    assert "docker/setup-tasks.sh" in {f.path for f in render_all(compile_plan(with_tasks))}
    assert "docker/setup-tasks.sh" not in {f.path for f in render_all(compile_plan(without))}
    # Tasks and env change no image: the images' digests are the same.
    assert images(with_tasks) == images(without)


# -- devenv.local.toml -----------------------------------------------------------------------

LOCAL = """\
[postgres]
host_port = 56499
[devcontainer]
forward_ports = [9000]
extensions = ["vscodevim.vim"]
settings = { "editor.fontSize" = 15, "python.defaultInterpreterPath" = "/x/python" }
[system]
packages = ["ripgrep", "build-essential"]
"""


def test_local_overrides_merge_over_the_plan_and_never_change_committed_files(
    make_project: MakeProject,
) -> None:
    root = make_project('[devcontainer]\nsettings = { "editor.tabSize" = 2 }\n')
    team = {f.path: f.content for f in render_all(compile_plan(load_plan(root)))}
    (root / "devenv.local.toml").write_text(LOCAL)
    plan = load_plan(root)
    assert {f.path: f.content for f in render_all(compile_plan(plan))} == team  # the team's files
    mine = plan.personal()
    assert mine.postgres.host_port == 56499 and plan.postgres.host_port == 5432
    assert mine.system.packages == ("build-essential", "libpq-dev", "ripgrep")
    assert mine.devcontainer.forward_ports == (8000, 9000)
    assert mine.devcontainer.extensions == ("ms-python.python", "vscodevim.vim")
    assert dict(mine.devcontainer.settings) == {
        "editor.tabSize": 2,
        "editor.fontSize": 15,
        "python.defaultInterpreterPath": "/x/python",
    }
    local = yaml.load(render_local_compose(plan).replace("!override", ""), Loader=yaml.SafeLoader)
    assert local["services"]["db"]["ports"] == ["127.0.0.1:56499:5432"]
    assert "!override" in render_local_compose(plan)  # replaces the port, not adds one
    # The extra packages: an image of this machine's own, built from the team's Dockerfile.
    assert local["services"]["app"]["image"] == "devenv/proj-dev-local:latest"
    assert local["services"]["app"]["build"] == {
        "context": ".",
        "dockerfile": ".devenv/Dockerfile.local",
        "target": "local",
    }
    dockerfile = render_local_dockerfile(plan)
    assert dockerfile is not None and render_dockerfile(compile_plan(plan)) in dockerfile
    assert dockerfile.rstrip().endswith("FROM dev AS local\nUSER root\n# hadolint ignore=DL3008\n"
        "RUN apt-get -o DPkg::Lock::Timeout=120 update \\\n && DEBIAN_FRONTEND=noninteractive "
        "apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends ripgrep "
        "build-essential \\\n && find /var/lib/apt/lists -type f -delete\nUSER dev")  # fmt: skip
    team, metadata = json.loads(local["services"]["app"]["labels"]["devcontainer.metadata"])
    # The CLI takes a container's label as the whole list: the team's entry stays in it.
    assert team["remoteUser"] == "dev" and team["customizations"]["vscode"]["extensions"] == [
        "ms-python.python"
    ]
    assert "dockerComposeFile" not in team
    assert [metadata] == [
        {
            "customizations": {
                "vscode": {
                    "extensions": ["vscodevim.vim"],
                    "settings": {
                        "editor.fontSize": 15,
                        "python.defaultInterpreterPath": "/x/python",
                    },
                }
            },
            "forwardPorts": [9000],
        }
    ]
    shown = CliRunner().invoke(cli, ["-C", str(root), "plan", "--mode", "host"])
    assert shown.exit_code == 0, shown.output
    assert "local overrides (devenv.local.toml" in shown.output
    assert "[postgres] host_port = 56499" in shown.output and "ripgrep" in shown.output


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ("[postgres]\nhost_port = 70000\n", "[postgres] host_port"),
        ("[postgres]\nversion = 17\n", "belongs to the team's devenv.toml"),
        ("[python]\nvenv = 'x'\n", "belongs to the team's devenv.toml"),
        ("[devcontainer]\nextensions = ['not an id']\n", "not a VS Code extension id"),
        ("[system]\npackages = ['Bad_Name']\n", "[system] packages"),
        ("[system]\npackages = ['git', 'git']\n", "lists a value twice"),
        ("[devcontainer]\nforward_ports = ['80']\n", "items must be an integer"),
        ("[postgres]\nhost_prot = 1\n", "did you mean 'host_port'"),
        ("[nope]\n", "unknown section"),
        ("[postgres\n", "invalid TOML"),
    ],
)
def test_local_overrides_are_validated_like_the_plan(
    make_project: MakeProject, toml: str, says: str
) -> None:
    root = make_project()
    (root / "devenv.local.toml").write_text(toml)
    result = CliRunner().invoke(cli, ["-C", str(root), "plan"])
    assert result.exit_code == 2, result.output
    assert "devenv.local.toml" in result.output and says in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_generate_writes_the_local_compose_file_and_ignores_the_local_plan(
    make_project: MakeProject,
) -> None:
    root = make_project()
    runner = CliRunner()
    assert runner.invoke(cli, ["-C", str(root), "generate"]).exit_code == 0
    assert "services: {}" in (root / ".devenv" / "compose.local.yaml").read_text()
    assert "devenv.local.toml" in (root / ".gitignore").read_text().splitlines()
    (root / "devenv.local.toml").write_text("[postgres]\nhost_port = 56498\n")
    assert runner.invoke(cli, ["-C", str(root), "generate", "--check"]).exit_code == 0
    result = runner.invoke(cli, ["-C", str(root), "generate"])
    assert "wrote     .devenv/compose.local.yaml" in result.output
    assert "127.0.0.1:56498:5432" in (root / ".devenv" / "compose.local.yaml").read_text()
    assert not (root / ".devenv" / "Dockerfile.local").exists()  # no extra packages
    (root / "devenv.local.toml").write_text("[system]\npackages = ['jq']\n")
    runner.invoke(cli, ["-C", str(root), "generate"])
    assert (
        "install -y --no-install-recommends jq" in (root / ".devenv/Dockerfile.local").read_text()
    )
    (root / "devenv.local.toml").write_text("[postgres]\nhost_port = 56498\n")
    runner.invoke(cli, ["-C", str(root), "generate"])
    assert not (root / ".devenv" / "Dockerfile.local").exists()
    dc = json.loads(
        "\n".join(
            line
            for line in (root / ".devcontainer/devcontainer.json").read_text().splitlines()
            if not line.startswith("//")
        )
    )
    assert dc["dockerComposeFile"] == ["../compose.yaml", "../.devenv/compose.local.yaml"]


def test_init_env_makes_the_empty_local_compose_file_generate_would(
    make_project: MakeProject,
) -> None:
    """VS Code's initializeCommand, on a fresh clone: the second compose file must exist."""
    root = make_project()
    for f in render_all(compile_plan(load_plan(root))):
        (root / f.path).parent.mkdir(parents=True, exist_ok=True)
        (root / f.path).write_text(f.content)
    subprocess.run(["sh", "docker/init-env.sh"], cwd=root, check=True)
    assert (root / ".devenv/compose.local.yaml").read_text() == render_local_compose(
        load_plan(root)
    )


def test_run_needs_a_command(make_project: MakeProject) -> None:
    root = make_project()
    result = CliRunner().invoke(cli, ["-C", str(root), "run"])
    assert result.exit_code == 2
    result = CliRunner().invoke(cli, ["-C", str(root), "run", "--host", "--container", "--", "x"])
    assert result.exit_code == 2 and "exclude each other" in result.output


def test_run_on_the_host_without_a_venv_says_how_to_make_one(make_project: MakeProject) -> None:
    root = make_project()
    result = CliRunner().invoke(cli, ["-C", str(root), "run", "--host", "--", "true"])
    assert result.exit_code == 1
    assert "there is no host venv yet" in result.output and "devenv host-install" in result.output


def test_engine_access_is_off_by_default_and_mounts_the_socket_when_on(
    make_project: MakeProject,
) -> None:
    off = load_plan(make_project(name="off"))
    app = compose_data(off)["services"]["app"]
    assert "user" not in app and not [v for v in app["volumes"] if "docker.sock" in v]
    assert "docker/engine-access.sh" not in {f.path for f in render_all(compile_plan(off))}
    on = load_plan(make_project("[devcontainer]\nengine_access = true\n", name="on"))
    app = compose_data(on)["services"]["app"]
    assert "/var/run/docker.sock:/run/docker.sock" in app["volumes"]
    assert app["user"] == "root" and app["command"] == [
        "sh",
        "/workspace/docker/engine-access.sh",
        "dev",
    ]
    assert app["environment"]["TESTCONTAINERS_HOST_OVERRIDE"] == "host.docker.internal"
    assert app["extra_hosts"] == ["host.docker.internal:host-gateway"]
    dc = devcontainer_data(on)
    assert dc["containerUser"] == "root" and dc["remoteUser"] == "dev"
    assert "docker/engine-access.sh" in {f.path for f in render_all(compile_plan(on))}


def test_values_of_env_files_never_reach_the_docker_argv_or_its_environment(
    make_project: MakeProject,
) -> None:
    """`devenv run` in the container: the values travel in a 0600 file of the run (read and
    removed inside), never in docker's argv or environment; docker runs as root only to map
    the image's user to the caller, then the command is exec'd as the caller."""
    import os
    import stat

    from devenv.container.compose import Compose
    from devenv.run.command import container_argv, write_run_env

    root = make_project()
    (root / ".env").write_text("API_TOKEN=very-secret-value\nDOCKER_HOST=tcp://evil:2375\n")
    plan = load_plan(root)
    env = envfiles.layered(root, plan.env.files, plan.env.vars)
    host_path, container_path = write_run_env(plan, env)
    assert stat.S_IMODE(host_path.stat().st_mode) == 0o600
    text = host_path.read_text()
    assert "export API_TOKEN=very-secret-value\n" in text
    assert text.endswith(f"/bin/rm -f -- {container_path}\n")
    assert container_path.startswith("/workspace/.devenv/run/")
    compose = Compose(plan, log=lambda _: None, docker="/usr/bin/docker")
    argv = container_argv(compose, plan, ["pytest", "-q"], pidfile="/tmp/x.pid",
                          envfile=container_path, tty=False, uid=1234, gid=567)  # fmt: skip
    assert "very-secret-value" not in " ".join(argv) and "evil" not in " ".join(argv)
    at = argv.index("exec")
    assert argv[at : at + 7] == ["exec", "-T", "--user", "root", "--workdir", "/workspace", "app"]
    assert argv[at + 10 : at + 14] == ["as-user", "1234", "567", "dev"]
    assert argv[-4:] == ["/tmp/x.pid", container_path, "pytest", "-q"]
    tty = container_argv(compose, plan, ["bash"], pidfile="/tmp/x.pid", envfile="", tty=True)
    assert "-T" not in tty
    assert os.environ.get("API_TOKEN") is None  # devenv's own environment is untouched
