"""One meaning for `--json` in every command: the result as JSON on stdout, and nothing else
there. build, host-install and verify still take the old `--json FILE`, with a deprecation
note on stderr. Real processes (stdout and stderr are real pipes), with the fake host tools."""

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
DEPRECATED = "devenv: warning: `--json FILE` is deprecated; use `--json`"


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
            emit('{"ok": true}\\n')
            print("more text")
        print("after")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=SOURCE
    )
    assert result.stdout == 'before\n{"ok": true}\nafter\n'
    assert result.stderr == "our text\na child inherits stdout\nmore text\n"


def test_host_install_json_on_stdout_and_the_old_spelling(
    make_project: MakeProject,
    fake_host: FakeHost,  # noqa: F811
    tmp_path: Path,
) -> None:
    fake_host.install("ca-certificates", "python3")
    project = make_project(PLAN)
    new = devenv("-C", str(project), "host-install", "--dry-run", "--json")
    assert new.returncode == 0, new.stderr
    data = json.loads(new.stdout)  # all of stdout is the JSON
    assert data["ok"] is True and data["dry_run"] is True
    assert "+ " in new.stderr and DEPRECATED not in new.stderr  # the commands, on stderr

    report = tmp_path / "r.json"
    old = devenv("-C", str(project), "host-install", "--dry-run", "--json", str(report))
    assert old.returncode == 0, old.stderr
    assert old.stderr.splitlines()[0].startswith(DEPRECATED)
    assert f"`--json > {report}`" in old.stderr.splitlines()[0]
    assert "+ " in old.stdout  # the old spelling keeps the text on stdout
    written = json.loads(report.read_text())
    assert written.keys() == data.keys()
    assert [s["name"] for s in written["steps"]] == [s["name"] for s in data["steps"]]


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


@pytest.mark.parametrize("command", ["plan", "doctor", "parity", "build", "host-install", "verify"])
def test_every_command_says_the_same_about_json(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Print the result as JSON on stdout, and nothing else" in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("args", "meaning"),
    [
        (["--json"], "stdout"),
        (["--json", "-"], "stdout"),
        (["--json", "--junit", "x.xml"], "stdout"),  # an option after it is not its value
        (["--json", "out.json"], "file"),  # a word after it is the old FILE
        (["--json=out.json"], "file"),
    ],
)
def test_how_an_operand_after_json_is_read(
    make_project: MakeProject, args: list[str], meaning: str
) -> None:
    # No engine is needed to see how it parsed: the deprecation note comes at parse time, and
    # the run stops at once (the images are missing, or no engine answers).
    root = make_project()
    result = CliRunner().invoke(cli, ["-C", str(root), "verify", *args])
    assert (DEPRECATED in result.stderr) is (meaning == "file"), result.stderr
