"""[postgres] init: the plan key, where compose and verify mount the folders, the order the
files run in, how verify judges the entrypoint's log, and host-install's run on a new database."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest
import yaml

from devenv.errors import PlanError
from devenv.flows.host_install import host_install
from devenv.host.report import Options, Status
from devenv.plan import db_init
from devenv.plan.model import Plan, Target, load_plan
from devenv.render.compose import render_compose
from devenv.steps.recipe import compile_plan
from devenv.verify.db import judge_init_log
from devenv.verify.report import CheckFailed
from tests.conftest import MakeProject
from tests.unit.test_host_fakes import FakeHost, fake_host  # noqa: F401 (a fixture)


def images(plan: Plan) -> tuple[str, str]:
    """The dev and db images' fingerprints (their `dev.devenv.plan` labels)."""
    recipe = compile_plan(plan)
    return recipe.fingerprint(Target.DEV), recipe.fingerprint(Target.DB)


PLAN = """\
[environment]
name = "seeded"
base = "debian:trixie"
[postgres]
version = 17
init = {init}
[python]
smoke = []
"""


def project(make_project: MakeProject, init: str, folders: dict[str, dict[str, str]]) -> Path:
    root = make_project(PLAN.format(init=init))
    for folder, files in folders.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (root / folder / name).write_text(text)
    return root


def test_folders_mount_in_plan_order_and_files_run_in_byte_order(
    make_project: MakeProject,
) -> None:
    root = project(
        make_project,
        '["db/schema", "db/seed/"]',
        {
            "db/schema": {"b.sql": "", "B.sql": "", "a.sh": "", ".hidden.sql": "", "_z.sql.gz": ""},
            "db/seed": {"10-data.sql": "", "9-more.sql.xz": ""},
        },
    )
    (root / "db/schema/sub").mkdir()
    plan = load_plan(root)
    assert plan.postgres.init == ("db/schema", "db/seed")
    assert [(m.source, m.target) for m in db_init.mounts(plan)] == [
        ("db/schema", "/docker-entrypoint-initdb.d/01-db-schema"),
        ("db/seed", "/docker-entrypoint-initdb.d/02-db-seed"),
    ]
    assert [f.container.rsplit("/", 2)[-2:] for f in db_init.files(plan)] == [
        ["01-db-schema", "B.sql"],
        ["01-db-schema", "_z.sql.gz"],
        ["01-db-schema", "a.sh"],
        ["01-db-schema", "b.sql"],
        ["02-db-seed", "10-data.sql"],
        ["02-db-seed", "9-more.sql.xz"],
    ]
    db = yaml.safe_load(render_compose(plan))["services"]["db"]
    assert db["volumes"][1:] == [
        {
            "type": "bind",
            "source": "./db/schema",
            "target": "/docker-entrypoint-initdb.d/01-db-schema",
            "read_only": True,
        },
        {
            "type": "bind",
            "source": "./db/seed",
            "target": "/docker-entrypoint-initdb.d/02-db-seed",
            "read_only": True,
        },
    ]


def test_init_folders_change_no_image(make_project: MakeProject) -> None:
    plain = load_plan(project(make_project, "[]", {}))
    seeded = load_plan(project(make_project, '["db"]', {"db": {"a.sql": ""}}))
    assert images(plain) == images(seeded)


@pytest.mark.parametrize(
    ("init", "said"),
    [
        ('["missing"]', "'missing' is not a folder in"),
        ('["/etc"]', "must be a relative path inside the project folder"),
        ('["../up"]', "must be a relative path inside the project folder"),
        ('["db init"]', "must be a folder path of plain names"),
        ('["out"]', "leads outside the project"),
        ('"db"', "must be a list"),
    ],
)
def test_bad_init_folders_are_plan_errors(make_project: MakeProject, init: str, said: str) -> None:
    root = project(make_project, init, {})
    (root / "out").symlink_to("/tmp")
    with pytest.raises(PlanError) as caught:
        load_plan(root)
    assert "[postgres] init" in caught.value.message and said in caught.value.message


def test_judge_init_log() -> None:
    expected = [
        "/docker-entrypoint-initdb.d/01-db/a.sql",
        "/docker-entrypoint-initdb.d/01-db/b.txt",
    ]
    log = (
        "initdb stuff\n"
        "/usr/local/bin/docker-entrypoint.sh: running /docker-entrypoint-initdb.d/01-db/a.sql\n"
        "CREATE TABLE\n"
        "/usr/local/bin/docker-entrypoint.sh: ignoring /docker-entrypoint-initdb.d/01-db/b.txt\n"
    )
    assert judge_init_log(log, expected) == "1 ran in order, 1 ignored (not *.sh or *.sql*)"
    with pytest.raises(CheckFailed, match="the plan's folders hold"):
        judge_init_log(log, list(reversed(expected)))
    with pytest.raises(CheckFailed):
        judge_init_log("initdb stuff\n", expected)


def test_host_install_runs_the_init_folders_once_on_the_new_database(
    make_project: MakeProject,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    fake_host.install("ca-certificates", "python3")
    root = project(make_project, '["db/init"]', {"db/init": {"01.sql": "SELECT 1;\n"}})
    lines: list[str] = []
    report = host_install(load_plan(root), Options(with_db=True), lines.append)
    assert report.ok, report.error
    steps = {s.name: s.status for s in report.steps}
    assert steps["db-cluster"] is Status.CHANGED and steps["db-init"] is Status.CHANGED
    runs = [c for c in fake_host.calls_with_env() if c["argv"][0] == "bash"]
    assert len(runs) == 1
    script, *folders = runs[0]["argv"][1:]
    assert folders == [str(root / "db/init")] and "devenv-db-init-" in script
    assert not Path(script).exists()  # the runner's copy is removed afterwards
    user = pwd.getpwuid(os.geteuid()).pw_name
    assert runs[0]["env"] == {
        "PGPORT": "5433",
        "PGDATABASE": "app",
        "POSTGRES_USER": user,
        "POSTGRES_DB": "app",
    }

    fake_host.forget_calls()
    report = host_install(load_plan(root), Options(with_db=True), lines.append)
    assert report.ok and {s.name: s.status for s in report.steps}["db-init"] is Status.UNCHANGED
    assert not [c for c in fake_host.calls() if c[0] == "bash"]
