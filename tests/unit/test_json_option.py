"""One meaning for `--json` in every command: the result as JSON on stdout, and nothing else
there. It is a flag: the old `--json FILE` is click's usage error (exit 2), before anything
runs. Real processes (stdout and stderr are real pipes), with the fake host tools."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from tests.conftest import MakeProject
from tests.unit.test_host_fakes import FakeHost, fake_host  # noqa: F401 (a fixture)
from tests.unit.test_host_runner import PLAN

SOURCE = Path(__file__).resolve().parents[2]
COMMANDS = ["plan", "doctor", "parity", "build", "host-install", "verify"]


def devenv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devenv", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=SOURCE,
    )


def test_stdout_holds_only_the_result_even_what_child_processes_print() -> None:
    code = textwrap.dedent(
        """\
        import subprocess, sys
        from devenv.commands import text_to_stderr
        print("before")
        with text_to_stderr(True) as emit:
            print("our text")
            subprocess.run([sys.executable, "-c", "print('a child inherits stdout')"])
            emit({"ok": True})
            print("more text")
        print("after")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=SOURCE
    )
    assert result.stdout == 'before\n{\n  "ok": true\n}\nafter\n'
    assert result.stderr == "our text\na child inherits stdout\nmore text\n"


def test_host_install_json_on_stdout(
    make_project: MakeProject,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    fake_host.install("ca-certificates", "python3")
    project = make_project(PLAN)
    new = devenv("-C", str(project), "host-install", "--dry-run", "--json")
    assert new.returncode == 0, new.stderr
    data = json.loads(new.stdout)  # all of stdout is the JSON
    assert data["ok"] is True and data["dry_run"] is True
    assert "+ " in new.stderr  # the commands, on stderr


def test_a_failed_host_install_still_prints_its_json(
    make_project: MakeProject,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    fake_host.install("ca-certificates", "python3")
    project = make_project(PLAN)
    fake_host.set_flag("pip-fail")
    result = devenv("-C", str(project), "host-install", "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and "failed" in data["error"]
    assert result.stderr.splitlines()[-1].startswith("devenv: error: ")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_says_the_same_about_json(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Print the result as JSON on stdout, and nothing else" in " ".join(result.output.split())


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--json", "out.json"], "Got unexpected extra argument (out.json)"),
        (["--json", "-"], "Got unexpected extra argument (-)"),
        (["--json=out.json"], "Option '--json' does not take a value."),
    ],
)
def test_json_takes_no_file(
    make_project: MakeProject, command: str, args: list[str], said: str
) -> None:
    """The old `--json FILE` is refused at parse time: one line, exit 2, nothing written and
    nothing run (no engine or host tool is needed to see it)."""
    root = make_project()
    result = devenv("-C", str(root), command, *args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"devenv: error: {said}"), result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (root / "out.json").exists() and not (SOURCE / "out.json").exists()


def test_an_option_after_json_is_an_option(make_project: MakeProject) -> None:
    result = devenv("-C", str(make_project()), "plan", "--json", "--mode", "host")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "host" in data and "container" not in data
