"""A property test of issue 11: plans drawn at random from the schema, mixed with hostile
strings, either fail with exit 2 and one line, writing nothing, or give files that pass the
linters (hadolint, shellcheck, the compose and devcontainer schemas) and hold no control or
bidi character. Bounded (max_examples) so the unit suite stays fast."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devenv.cli import cli
from devenv.plan import schema
from tests.conftest import REQUIREMENTS
from tests.unit.test_linters import SCHEMA as DEVCONTAINER_SCHEMA

HOSTILE = [
    "",
    ".",
    "..",
    "/",
    "-",
    "--help",
    "-oAPT::Update::Pre-Invoke::=touch /tmp/pwned",
    "tzdata-",
    "curl+",
    "curl/trixie",
    "curl*",
    "$(id)",
    "`id`",
    "a;reboot",
    "a b",
    "a\nb",
    "a\rb",
    "\x1b[31mred",
    "a\u202eb",
    "a\u2066b",
    "a\u2028b",
    "a\x85b",
    "a\x00b",
    "\ufeffname",
    "${HOME}",
    "%(x)s",
    "{x}",
    "'",
    '"',
    "\\",
    "#",
    "!x",
    "*",
    "../x",
    "/etc",
    "/proc",
    "/home/dev",
    "/workspace",
    ".devenv",
    "docker",
    ".git",
    "root",
    "pg_x",
    "public",
    "class",
    "x" * 300,
    "A",
    "Ünï",
    "a:b",
    "a@sha256:" + "0" * 64,
]
VALID: dict[tuple[str, str], list[Any]] = {
    ("environment", "name"): ["app", "my-app", "a__b", "x1"],
    ("environment", "base"): ["ubuntu:24.04", "debian:trixie", "debian:13", "debian:12"],
    ("environment", "mirror"): ["http://deb.example.invalid/debian"],
    ("environment", "user"): ["dev", "alice"],
    ("system", "packages"): [["build-essential", "libpq-dev"], ["g++", "curl"], []],
    ("postgres", "version"): [16, 17],
    ("postgres", "extensions"): [["pgvector"], []],
    ("postgres", "source"): ["distro", "pgdg"],
    ("postgres", "host_port"): [5432, 55432],
    ("postgres", "user"): ["postgres", "app"],
    ("postgres", "database"): ["app", "db_1"],
    ("python", "venv"): [".venv", "env/dev"],
    ("python", "container_venv"): ["/opt/venv", "/home/dev/venv"],
    ("python", "requirements"): [["requirements.txt"]],
    ("python", "installer"): ["pip", "uv"],
    ("python", "smoke"): [["fastapi"], [], ["pgvector.psycopg"]],
    ("python", "allow_index_options"): [False, True],
    ("devcontainer", "forward_ports"): [[8000], [], [3000, 8000]],
    ("devcontainer", "extensions"): [["ms-python.python"], []],
    ("devcontainer", "workspace"): ["/workspace", "/workspaces/app"],
}
REQUIREMENT_LINES = [
    *REQUIREMENTS.splitlines(),
    "-ihttp://example.invalid/simple",
    "--extra x",
    "-r ../x.txt",
    "-r requirements.txt",
    "-e .",
    "x @ https://example.invalid/x.whl",
    "git+https://example.invalid/x",
    "--hash=sha256:" + "0" * 64,
    "# a comment",
    "\ufefffastapi",
    "httpx ; python_version >= '3.8'",
    "fastapi\x1b[2J",
    "${PKG}",
]
# Controls (tab and newline aside) and bidi/line-breaking characters: never in generated files.
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    out = json.dumps(value, ensure_ascii=False)  # JSON string escapes are TOML's
    return out.replace("\x7f", "\\u007f")


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


hostile_text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))


@st.composite
def plans(draw: st.DrawFn) -> tuple[str, str, str]:
    """(devenv.toml text, requirements.txt text, project folder name)."""
    lines = []
    for section in schema.SECTIONS:
        if not draw(st.booleans()):
            continue
        lines.append(f"[{section}]")
        for declared in schema.in_section(section):
            key, kind, default = declared.name, declared.kind, declared.default
            choice = draw(st.integers(0, 5))
            valid = VALID.get((section, key)) or ([default] if isinstance(default, kind) else [])
            if choice <= 2 or (choice <= 4 and not valid):
                continue  # the default
            if choice <= 4:
                value: Any = draw(st.sampled_from(valid))
            elif kind is list:
                value = draw(st.lists(hostile_text, max_size=2, unique=True))
            elif kind is int:
                value = draw(st.integers(-1, 70000))
            else:
                value = draw(hostile_text)
            lines.append(f"{key} = {toml_value(value)}")
        if draw(st.integers(0, 9)) == 0:
            lines.append(f"{toml_key(draw(hostile_text) or 'x')} = 1")
    requirements = "\n".join(
        draw(st.lists(st.sampled_from(REQUIREMENT_LINES), min_size=1, max_size=4))
    )
    folder = draw(st.one_of(st.just("proj"), st.sampled_from(["My App", "a_-b", "x___y", "Ünï"])))
    return "\n".join(lines) + "\n", requirements + "\n", folder


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def lint(root: Path) -> None:
    hadolint, shellcheck = shutil.which("hadolint"), shutil.which("shellcheck")
    assert hadolint and shellcheck
    dockerfile = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "warning", "docker/Dockerfile"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert dockerfile.returncode == 0, dockerfile.stdout
    scripts = sorted(str(p) for p in (root / "docker").glob("*.sh"))
    shell = subprocess.run(
        [shellcheck, "-S", "warning", *scripts],  # each in its shebang's dialect
        capture_output=True,
        text=True,
        check=False,
    )
    assert shell.returncode == 0, shell.stdout
    import yaml

    compose = yaml.safe_load((root / "compose.yaml").read_text())
    spec = resources.files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json"
    jsonschema.validate(compose, json.loads(spec.read_text()))
    text = (root / ".devcontainer/devcontainer.json").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("//"))
    jsonschema.validate(json.loads(body), json.loads(DEVCONTAINER_SCHEMA.read_text()))


OUTCOMES = {"refused": 0, "generated": 0}


@settings(
    # DEVENV_PROPERTY_EXAMPLES=1000 for a longer hunt; the default keeps the suite fast.
    max_examples=int(os.environ.get("DEVENV_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plans())
def test_a_random_plan_is_refused_cleanly_or_generates_lint_clean_files(
    case: tuple[str, str, str],
) -> None:
    toml, requirements, folder = case
    with tempfile.TemporaryDirectory(prefix="devenv-prop-") as tmp:
        root = Path(tmp) / folder
        root.mkdir()
        (root / "devenv.toml").write_text(toml, encoding="utf-8")
        (root / "requirements.txt").write_text(requirements, encoding="utf-8")
        before = snapshot(root)
        result = CliRunner().invoke(cli, ["-C", str(root), "generate"])
        if result.exit_code != 0:
            assert result.exit_code == 2, (result.output, toml, requirements)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert lines[0].startswith("devenv: error: ")
            assert all(c.isprintable() for c in lines[0]), repr(lines[0])
            assert snapshot(root) == before
            OUTCOMES["refused"] += 1
            return
        OUTCOMES["generated"] += 1
        for path, data in snapshot(root).items():
            if path in before:
                continue
            text = data.decode("utf-8")
            assert not _FORBIDDEN.search(text), (path, toml)
        lint(root)


def teardown_module() -> None:
    print(f"\nproperty outcomes: {OUTCOMES}")
