"""compile_steps: order, phases, parity between modes, and the requirements review."""

from __future__ import annotations

import pytest

from devenv.errors import PlanError
from devenv.plan.model import load_plan
from devenv.plan.schema import Installer
from devenv.steps.compile import compile_steps, venv_store
from devenv.steps.model import Kind, Mode, Phase, Scope
from devenv.steps.recipe import requirements_review
from tests.conftest import MakeProject

DEBIAN13 = "[environment]\nbase = 'debian:trixie'\n[postgres]\nversion = 17\n"


def test_phases_are_in_the_seed_order(make_project: MakeProject) -> None:
    plan = load_plan(make_project())
    for mode in Mode:
        phases = [s.phase for s in compile_steps(plan, mode, requirements_review(plan, mode))]
        order = [Phase.PREREQUISITES, Phase.SYSTEM, Phase.PYTHON, Phase.VERIFY]
        assert sorted(phases, key=order.index) == phases
        # The host's only prerequisite would be the images' CA certificates (and PGDG).
        assert set(phases) == set(order) - ({Phase.PREREQUISITES} if mode is Mode.HOST else set())


def test_default_plan_is_the_mission(make_project: MakeProject) -> None:
    plan = load_plan(make_project())
    steps = {s.id: s for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))}
    assert plan.environment.base == "ubuntu:24.04"
    assert {"build-essential", "libpq-dev", "postgresql-client-16", "python3-venv"} <= set(
        steps["system-packages"].packages
    )
    assert steps["postgres-server"].packages == (
        "ca-certificates",
        "postgresql-common",
        "postgresql-16",
        "postgresql-client-16",
        "postgresql-16-pgvector",
        "xz-utils",
        "zstd",
        "libnss-wrapper",
        "locales",
    )
    assert [
        s.id
        for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))
        if s.phase is Phase.VERIFY
    ] == [
        "pip-check",
        "native-libs",
        "smoke-imports",
        "extension-pgvector",
    ]


def test_debian13_uses_postgres_17_from_the_archive(make_project: MakeProject) -> None:
    plan = load_plan(make_project(DEBIAN13))
    steps = {
        s.id: s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
    }
    assert "postgresql-17-pgvector" in steps["postgres-server"].packages
    assert "postgresql-client-17" in steps["system-packages"].packages
    assert "pgdg" not in steps


def test_pgdg_source_adds_the_repository_first(make_project: MakeProject) -> None:
    plan = load_plan(make_project("[environment]\nbase='debian:12'\n[postgres]\nsource='pgdg'\n"))
    ids = [s.id for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))]
    assert ids.index("pgdg") < ids.index("system-packages")


def test_host_and_container_run_the_same_commands_but_paths(make_project: MakeProject) -> None:
    """Parity by construction: the host's argv equal the image's once paths and the
    image-only additions (apt-list cleanup, --no-cache-dir, its user) are accounted for."""
    plan = load_plan(make_project())
    host = {s.id: s for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))}
    image = {
        s.id: s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
    }
    assert set(host) <= set(image)
    assert set(image) - set(host) == {"trust-ca", "dev-user", "db-runtime"}
    host_venv, image_venv = str(plan.project_dir / ".venv"), "/opt/venv"
    for step_id, step in host.items():

        def norm(argv: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(
                a.replace(venv_store(plan), "VENV")  # where the image's venv files live
                .replace(host_venv, "VENV")
                .replace(image_venv, "VENV")
                .replace(str(plan.project_dir), "REQ")
                .replace("/opt/devenv/requirements", "REQ")
                for a in argv
                if a != "--no-cache-dir"
            )

        assert [norm(c.argv) for c in step.commands_for(Mode.HOST)] == [
            norm(c.argv) for c in image[step_id].commands_for(Mode.HOST)
        ], step_id


def test_psycopg_without_binary_gets_libpq(make_project: MakeProject) -> None:
    plan = load_plan(make_project("[system]\npackages = []\n", "psycopg==3.2.3\n"))
    step = next(
        s
        for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))
        if s.id == "system-packages"
    )
    assert "libpq-dev" in step.packages
    assert any("psycopg" in n and "libpq-dev" in n for n in step.notes)


def test_psycopg2_and_c_extras_get_a_compiler(make_project: MakeProject) -> None:
    for req in ("psycopg2==2.9.10\n", "psycopg[c]==3.2.3\n"):
        plan = load_plan(make_project("[system]\npackages = []\n", req))
        step = next(
            s
            for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))
            if s.id == "system-packages"
        )
        assert {"libpq-dev", "build-essential", "python3-dev"} <= set(step.packages), req


def test_binary_psycopg_needs_nothing_extra(make_project: MakeProject) -> None:
    plan = load_plan(make_project("[system]\npackages = []\n", "psycopg[binary]==3.2.3\n"))
    step = next(
        s
        for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))
        if s.id == "system-packages"
    )
    assert "libpq-dev" not in step.packages and not step.notes


def test_nested_requirements_are_copied_into_the_image(make_project: MakeProject) -> None:
    root = make_project("", "-r base.txt\n-c constraints.txt\nfastapi\n")
    (root / "base.txt").write_text("sqlalchemy\n")
    (root / "constraints.txt").write_text("sqlalchemy<3\n")
    plan = load_plan(root)
    step = next(
        s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
        if s.id == "requirements"
    )
    assert [src for src, _ in step.copies] == ["requirements.txt", "base.txt", "constraints.txt"]


def test_uv_installer(make_project: MakeProject) -> None:
    plan = load_plan(make_project("[python]\ninstaller = 'uv'\n"))
    step = next(
        s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
        if s.id == "requirements"
    )
    (command,) = step.commands
    assert command.argv[:3] == ("/opt/venv/bin/uv", "pip", "install")
    # The image's ENV names its CA bundle (SSL_CERT_FILE); the host's uv reads the system store.
    assert command.env == (("UV_NO_CACHE", "1"),)
    host = next(
        s
        for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))
        if s.id == "requirements"
    )
    assert host.commands[0].env == (("UV_NATIVE_TLS", "1"),)


def test_apt_steps_run_as_root_python_steps_do_not(make_project: MakeProject) -> None:
    plan = load_plan(make_project())
    for step in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST)):
        assert step.root == (step.kind is Kind.APT), step.id


def test_db_check_needs_a_running_server(make_project: MakeProject) -> None:
    plan = load_plan(make_project())
    steps = compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))
    (check,) = [s for s in steps if s.kind is Kind.DB_CHECK]
    assert not check.at_build and check.scope is Scope.DB


def test_image_venv_files_live_in_the_users_home(make_project: MakeProject) -> None:
    """VS Code's updateRemoteUserUID re-owns only the user's home: the venv's files go there
    and container_venv links to them, unless container_venv is in the home already."""
    plan = load_plan(make_project())
    assert venv_store(plan) == "/home/dev/.local/share/devenv/venv"
    steps = {
        s.id: s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
    }
    assert steps["dev-user"].commands[0].argv[-2:] == ("/opt/venv", venv_store(plan))
    assert steps["venv"].commands[0].argv == ("python3", "-m", "venv", venv_store(plan))
    assert steps["pip-bootstrap"].commands[0].argv[0] == "/opt/venv/bin/python"
    host = {s.id: s for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))}
    assert host["venv"].commands[0].argv[-1] == str(plan.project_dir / ".venv")

    inside = load_plan(make_project("[python]\ncontainer_venv = '/home/dev/venv'\n", name="b"))
    assert venv_store(inside) == "/home/dev/venv"
    steps = {
        s.id: s
        for s in compile_steps(inside, Mode.CONTAINER, requirements_review(inside, Mode.CONTAINER))
    }
    assert steps["venv"].commands[0].argv[-1] == "/home/dev/venv"


def test_the_default_installer_is_uv_for_plain_requirements(make_project: MakeProject) -> None:
    plan = load_plan(make_project())
    assert plan.python.installer is Installer.UV and plan.python.installer_note is None


@pytest.mark.parametrize(
    ("text", "extra", "written"),
    [
        ("--pre\nfastapi\n", {}, "--pre"),  # uv ignores it: no pre-releases
        ("fastapi\n--use-feature=truststore\n", {}, "--use-feature"),
        ("--prefer\nfastapi\n", {}, "--prefer"),  # an abbreviation: uv refuses the file
        ("-rbase.txt\n", {"base.txt": "fastapi\n"}, "-rbase.txt"),  # attached: uv refuses it
        ("-r base.txt\n", {"base.txt": "--config-settings k=v\nfastapi\n"}, "--config-settings"),
    ],
)
def test_options_only_pip_reads_make_the_default_pip_and_explicit_uv_an_error(
    make_project: MakeProject, text: str, extra: dict[str, str], written: str
) -> None:
    root = make_project()
    (root / "requirements.txt").write_text(text)
    for name, content in extra.items():
        (root / name).write_text(content)
    plan = load_plan(root)
    assert plan.python.installer is Installer.PIP
    step = next(
        s
        for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))
        if s.id == "requirements"
    )
    assert step.title.endswith("with pip")
    assert step.notes == (plan.python.installer_note,) and f"({written})" in step.notes[0]
    (root / "devenv.toml").write_text('[python]\ninstaller = "uv"\n')
    with pytest.raises(PlanError) as raised:
        load_plan(root)
    assert "[python] installer: uv does not read" in raised.value.message
    assert f"({written})" in raised.value.message
    assert 'installer = "pip"' in (raised.value.hint or "")
    (root / "devenv.toml").write_text('[python]\ninstaller = "pip"\n')
    assert load_plan(root).python.installer_note is None  # chosen, so nothing to explain


def test_an_index_url_s_credentials_stay_out_of_the_installer_note(
    make_project: MakeProject,
) -> None:
    root = make_project("[python]\nallow_index_options = true\n")
    (root / "requirements.txt").write_text("-ihttps://alice:s3cr3t@pypi.example/simple\nfastapi\n")
    plan = load_plan(root)
    assert plan.python.installer is Installer.PIP
    note = plan.python.installer_note or ""
    assert "s3cr3t" not in note and "alice" not in note and "//***@pypi.example" in note


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_hash_on_any_line_checks_hashes_for_the_whole_install(
    make_project: MakeProject, installer: str
) -> None:
    """pip turns hash-checking on for every package when one line has --hash; uv needs to be
    told, so the step says it for both."""
    root = make_project(f'[python]\ninstaller = "{installer}"\n')
    digest = "a" * 64
    (root / "requirements.txt").write_text(f"six==1.17.0 --hash=sha256:{digest}\n")
    plan = load_plan(root)
    for mode in Mode:
        step = next(
            s
            for s in compile_steps(plan, mode, requirements_review(plan, mode))
            if s.id == "requirements"
        )
        assert "--require-hashes" in step.commands[0].argv
    (root / "requirements.txt").write_text("six==1.17.0\n")
    plan = load_plan(root)
    review = requirements_review(plan, Mode.HOST)
    step = next(s for s in compile_steps(plan, Mode.HOST, review) if s.id == "requirements")
    assert "--require-hashes" not in step.commands[0].argv
