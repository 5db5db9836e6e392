"""The db stage and its entrypoint as rendered: the official postgres image's contract."""

from __future__ import annotations

from devenv.plan.model import load_plan
from devenv.render.dockerfile import render_dockerfile
from devenv.render.scripts import DB_ENTRYPOINT, HOST_DB_INIT
from devenv.steps.recipe import compile_plan
from tests.conftest import MakeProject


def db_stage(make_project: MakeProject, toml: str = "") -> str:
    text = render_dockerfile(compile_plan(load_plan(make_project(toml))))
    return text.split("FROM base AS db", 1)[1].split("FROM base AS dev", 1)[0]


def test_db_stage_keeps_root_declares_the_volume_and_names_the_entrypoint(
    make_project: MakeProject,
) -> None:
    stage = db_stage(
        make_project, '[environment]\nbase = "debian:trixie"\n[postgres]\nversion = 17\n'
    )
    assert "\nUSER " not in stage  # root by default: derived images can RUN apt-get
    assert "VOLUME /var/lib/postgresql/data\n" in stage
    assert 'ENTRYPOINT ["docker-entrypoint.sh"]\nCMD ["postgres"]\n' in stage
    assert "LANG=en_US.utf8" in stage and "PG_MAJOR=17" in stage
    assert "COPY docker/db-entrypoint.sh /usr/local/bin/docker-entrypoint.sh" in stage
    for package in ("libnss-wrapper", "locales", "xz-utils", "zstd"):
        assert f" {package}" in stage
    assert "localedef -i en_US -c -f UTF-8" in stage
    assert "-m 1777 /var/lib/postgresql/data" in stage
    assert "-m 3777 /var/run/postgresql" in stage
    assert "/docker-entrypoint-initdb.d" in stage
    assert "/usr/share/postgresql/17/postgresql.conf.sample" in stage
    assert "apt-get clean" in stage


def test_entrypoint_has_the_official_steps() -> None:
    assert DB_ENTRYPOINT.startswith("#!/usr/bin/env bash\n")
    for name in (
        "file_env POSTGRES_PASSWORD",
        "file_env POSTGRES_USER postgres",
        'file_env POSTGRES_DB "$POSTGRES_USER"',
        "file_env POSTGRES_INITDB_ARGS",
        "POSTGRES_INITDB_WALDIR",
        "POSTGRES_HOST_AUTH_METHOD",
        "exec setpriv --reuid=postgres --regid=postgres --init-groups",
        "libnss_wrapper.so",
        "docker_process_init_files",
        "*.sql.zst)",
        "zstd -dc",
        "xzcat",
        "gunzip -c",
    ):
        assert name in DB_ENTRYPOINT, name
    # The password never reaches argv: initdb reads it from a pipe.
    assert "--pwfile=<(printf" in DB_ENTRYPOINT


def test_host_runner_shares_the_init_functions() -> None:
    shared = DB_ENTRYPOINT.split("docker_process_sql() {", 1)[1].split("_pg_want_help", 1)[0]
    assert shared.split("\n# `postgres --help`")[0] in HOST_DB_INIT
