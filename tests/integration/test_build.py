"""`devenv build` on a real engine: images, user, imports, apt lists, cache, secrets, failures."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

from devenv.container.engine import Engine
from tests.integration.conftest import BuiltProject, RunContainer, devenv_cli

CANARY = f"CANARY-{uuid.uuid4().hex[:12]}"


def non_from(build: dict[str, Any], target: str | None = None) -> list[dict[str, Any]]:
    return [
        s
        for s in build["steps"]
        if not s["instruction"].startswith("FROM ") and (target is None or s["target"] == target)
    ]


def rebuild(root: Path, name: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = devenv_cli("-C", str(root), "build", "--quiet", "--json", env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_images_exist_with_plan_labels(built_project: BuiltProject, engine: Engine) -> None:
    images = built_project.build["images"]
    assert images == {"db": "devenv/itest-db:latest", "dev": "devenv/itest-dev:latest"}
    for target, ref in images.items():
        labels = engine.image_labels(ref)
        assert labels["dev.devenv.target"] == target
        assert len(labels["dev.devenv.plan"]) == 16
    assert built_project.build["steps_total"] == len(built_project.build["steps"]) > 20


def test_dev_image_runs_as_non_root_with_the_venv(
    built_project: BuiltProject, run_container: RunContainer
) -> None:
    code, out = run_container("devenv/itest-dev:latest", ["id", "-un"])
    assert (code, out.strip()) == (0, "dev")
    code, out = run_container(
        "devenv/itest-dev:latest",
        ["python", "-c", "import psycopg, pgvector.psycopg, sys; print(sys.prefix)"],
    )
    assert (code, out.strip()) == (0, "/opt/venv"), out


def test_no_apt_lists_left(built_project: BuiltProject, run_container: RunContainer) -> None:
    for ref in built_project.build["images"].values():
        code, out = run_container(ref, ["find", "/var/lib/apt/lists", "-type", "f"], "root")
        assert (code, out) == (0, ""), ref


def test_db_image_has_psql_and_the_extension(
    built_project: BuiltProject, run_container: RunContainer
) -> None:
    code, out = run_container("devenv/itest-db:latest", ["psql", "--version"])
    assert code == 0 and "17." in out
    code, out = run_container(
        "devenv/itest-db:latest", ["ls", "/usr/share/postgresql/17/extension/vector.control"]
    )
    assert code == 0, out


def test_db_refuses_to_start_without_a_password(
    built_project: BuiltProject, run_container: RunContainer
) -> None:
    code, out = run_container("devenv/itest-db:latest", None)
    assert code == 1
    assert "superuser password is not specified" in out and "POSTGRES_PASSWORD" in out


def test_cache_noop_source_edit_and_requirements_edit(
    built_project: BuiltProject, engine: Engine
) -> None:
    root = built_project.root
    # 1. Nothing changed: every step but FROM comes from the cache.
    noop = rebuild(root, "noop")
    assert all(s["cached"] for s in non_from(noop)), [s for s in non_from(noop) if not s["cached"]]
    assert noop["steps_cached"] == len(non_from(noop))

    # 2. A source file edit: the workspace is not in the build context, so nothing re-runs.
    (root / "app.py").write_text("print('hello')\n")
    (root / "README.md").write_text("edited\n")
    assert all(s["cached"] for s in non_from(rebuild(root, "source-edit")))

    # 3. requirements.txt edited: only the Python steps of the dev image re-run; every
    #    system step and the whole db image come from the cache.
    with (root / "requirements.txt").open("a") as f:
        f.write(f"# edited by the integration test {uuid.uuid4().hex}\n")
    edited = rebuild(root, "req-edit")
    assert all(s["cached"] for s in non_from(edited, "db"))
    dev = non_from(edited, "dev")
    first_rerun = next(i for i, s in enumerate(dev) if not s["cached"])
    assert dev[first_rerun]["instruction"].startswith("COPY")
    assert "requirements.txt" in dev[first_rerun]["instruction"]
    assert all(s["cached"] for s in dev[:first_rerun])
    assert not any(s["cached"] for s in dev[first_rerun:])
    assert any("apt-get" in s["instruction"] for s in dev[:first_rerun])


def test_proxy_reaches_the_build_but_not_the_image(built_project: BuiltProject) -> None:
    """--no-cache, so the canary really passes through RUN steps; it must leave no trace."""
    root = built_project.root
    proxy = f"http://u:{CANARY}@127.0.0.1:9"
    argv = ["-C", str(root), "build", "--no-cache", "--target", "db", "--json"]
    result = devenv_cli(*argv, env={"FTP_PROXY": proxy, "ftp_proxy": proxy})
    assert result.returncode == 0, result.stderr[-4000:]
    steps = json.loads(result.stdout)["steps"]
    assert any(not s["cached"] and s["instruction"].startswith("RUN") for s in steps)
    ref = "devenv/itest-db:latest"
    history = subprocess.run(
        ["docker", "history", "--no-trunc", ref], capture_output=True, text=True, check=True
    ).stdout
    inspect = subprocess.run(
        ["docker", "image", "inspect", ref], capture_output=True, text=True, check=True
    ).stdout
    assert "apt-get" in history  # the history is there, and it is clean:
    assert CANARY not in history and CANARY not in inspect
    assert "FTP_PROXY" not in history.upper() and "FTP_PROXY" not in inspect.upper()


def test_failing_step_exits_1_and_names_it(built_project: BuiltProject, tmp_path: Path) -> None:
    root = tmp_path / "broken"
    root.mkdir()
    (root / "devenv.toml").write_text(
        (built_project.root / "devenv.toml")
        .read_text()
        .replace('name = "itest"', 'name = "itest-broken"')
    )
    (root / "requirements.txt").write_text("devenv-no-such-package-4f1e==1.0\n")
    assert devenv_cli("-C", str(root), "generate").returncode == 0
    result = devenv_cli("-C", str(root), "build", "--target", "dev")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("devenv: error: building the dev image failed at step ")
    assert "pip install" in last and "returned a non-zero code" in last
    # the installer's own words (uv, the default), not just the step's exit code
    assert "devenv-no-such-package-4f1e was not found in the package registry" in result.stderr
    assert "Traceback" not in result.stderr


def test_pip_installer_builds_behind_the_tls_proxy(
    built_project: BuiltProject, tmp_path: Path, run_container: RunContainer
) -> None:
    """pip, one key away from the default uv: the same requirements install through the TLS
    proxy (pip reads PIP_CERT, the image's bundle with the host's extra CAs), with the classic
    tools upgraded in the venv. The shared project builds with uv (SSL_CERT_FILE)."""
    root = tmp_path / "pipproj"
    root.mkdir()
    plan = (
        (built_project.root / "devenv.toml")
        .read_text()
        .replace('name = "itest"', 'name = "itest-pip"')
    )
    (root / "devenv.toml").write_text(plan.replace("[python]\n", '[python]\ninstaller = "pip"\n'))
    (root / "requirements.txt").write_text(
        "psycopg[binary]==3.3.9\npgvector==0.5.1\nSQLAlchemy==2.0.44\n"
    )
    result = devenv_cli("-C", str(root), "build", "--target", "dev", "--quiet")
    assert result.returncode == 0, result.stderr[-4000:]
    code, out = run_container(
        "devenv/itest-pip-dev:latest",
        ["python", "-c", "import psycopg, pgvector.psycopg, sqlalchemy, setuptools, wheel"],
    )
    assert code == 0, out
    code, out = run_container("devenv/itest-pip-dev:latest", ["sh", "-c", "command -v uv || true"])
    assert code == 0 and out.strip() == "", out  # pip's venv carries no uv
    shared = "devenv/itest-dev:latest"
    code, out = run_container(shared, ["uv", "--version"])
    assert code == 0 and out.startswith("uv "), out
