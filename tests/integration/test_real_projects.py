"""Real projects (tests/projects/*: requirement sets of public PostgreSQL + pgvector backends, see
their SOURCE.md) on the default plan, as a new user meets them: `devenv init`, untouched, then
`devenv up` (base, build, compose up, verify) with exit 0, `devenv verify --json` all passed, and
`devenv down --volumes`. The plan must show what the requirements review added for the project
that compiles psycopg2 and for the one that loads C libraries at import; that same project goes
through `host-install --with-db` on a bare Ubuntu 24.04 host.

One module, so pytest-xdist's loadfile keeps it on one worker and the projects run one after
another. Names are the folder's, `rp-<project>` (images, compose project, volume). The database
port: `devenv up` publishes the db on 127.0.0.1:[postgres] host_port, 5432 by default, which the
default plan's own test (and any other up) also uses; each project here gets a port of its own
through devenv.local.toml, the documented personal override, so the plan stays as init wrote it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devenv.container.engine import Engine
from tests.integration.conftest import cli, tail
from tests.integration.conftest_host import (
    Host,
    bare_noble_host_image,  # noqa: F401 (a fixture)
    put_tree,
    start_host,
    stop_host,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECTS = Path(__file__).resolve().parents[1] / "projects"


@dataclass(frozen=True)
class Case:
    project: str  # folder under tests/projects
    requirements: tuple[str, ...]  # the set init should choose
    apt: frozenset[str] = frozenset()  # packages the review adds to the dev image (Ubuntu 24.04)
    notes: tuple[str, ...] = ()  # words the review's notes in the plan name (any case)
    port: int = 0  # [postgres] host_port in devenv.local.toml

    @property
    def name(self) -> str:
        return f"rp-{self.project}"


CASES = (
    # asyncpg only, requirements in backend/
    Case("memchat", ("backend/requirements.txt",), port=56401),
    # plain psycopg2: no wheel, compiled against libpq and Python's headers
    Case(
        "pgvector-playground",
        ("requirements.txt",),
        apt=frozenset({"build-essential", "python3-dev", "libpq-dev"}),
        notes=("psycopg2",),
        port=56402,
    ),
    # psycopg 3 + numpy + pgvector-python
    Case("pgvector-loading", ("requirements.txt",), port=56403),
    # python-magic loads libmagic, opencv-python's cv2 links libGL; requirements.lite.txt
    Case(
        "rag-api-lite",
        ("requirements.lite.txt",),
        apt=frozenset({"libmagic1t64", "libgl1"}),
        notes=("magic", "libgl"),
        port=56404,
    ),
)
HOST_CASE = CASES[3]


def compose_ps(name: str) -> str:
    done = subprocess.run(
        ["docker", "compose", "--project-name", name, "ps", "--all", "-q"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def apt_packages(steps: list[dict[str, object]]) -> set[str]:
    """Every package an `apt-get install` of these steps names (versions cut)."""
    found: set[str] = set()
    for step in steps:
        for command in step.get("commands", []):  # type: ignore[union-attr]
            words = str(command).split()
            if "apt-get" in str(command) and "install" in words:
                after = words[words.index("install") + 1 :]
                found.update(w.split("=")[0] for w in after if not w.startswith("-"))
    return found


@pytest.fixture(scope="module")
def workspace(noble_base: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ubuntu 24.04 made (under the workers' lock) before any `devenv up` here could start
    bootstrapping it beside another worker."""
    return tmp_path_factory.mktemp("real-projects")


@pytest.fixture(scope="module", params=CASES, ids=[c.project for c in CASES])
def case(request: pytest.FixtureRequest, workspace: Path) -> Iterator[tuple[Case, Path]]:
    """The project copied to a folder named rp-<project>, as a user's checkout; always down at
    the end, whatever failed."""
    spec: Case = request.param
    root = workspace / spec.name
    shutil.copytree(PROJECTS / spec.project, root, ignore=shutil.ignore_patterns("SOURCE.md"))
    try:
        yield spec, root
    finally:
        if (root / "devenv.toml").exists():
            cli(root, "down", "--volumes", timeout=300)


def test_init_chooses_the_projects_requirements(case: tuple[Case, Path]) -> None:
    spec, root = case
    done = cli(root, "init", timeout=300)
    assert done.returncode == 0, tail(done)
    said = done.stdout + done.stderr
    for path in spec.requirements:
        assert path in said, said
    plan = tomllib.loads((root / "devenv.toml").read_text())
    assert plan["environment"]["base"] == "ubuntu:24.04"
    assert tuple(plan["python"]["requirements"]) == spec.requirements, plan["python"]


def test_plan_shows_what_the_review_adds(case: tuple[Case, Path]) -> None:
    spec, root = case
    done = cli(root, "plan", "--json", timeout=600)
    assert done.returncode == 0, tail(done)
    plan = json.loads(done.stdout)
    dev = [s for s in plan["container"] if s.get("scope") != "db"]
    missing = spec.apt - apt_packages(dev)
    assert not missing, f"{spec.project}: not in the dev image's apt steps: {sorted(missing)}"
    notes = " ".join(str(n) for s in dev for n in s.get("notes", [])).lower()
    for word in spec.notes:
        assert word in notes, f"{spec.project}: no note names {word!r}: {notes}"


def test_up_verifies_and_down_removes(case: tuple[Case, Path]) -> None:
    spec, root = case
    # The personal override (git-ignored, not the plan): a port of this project's own.
    (root / "devenv.local.toml").write_text(f"[postgres]\nhost_port = {spec.port}\n")
    up = cli(root, "up", timeout=2400)
    assert up.returncode == 0, tail(up)
    assert "checks passed" in up.stdout, tail(up)
    assert f"127.0.0.1:{spec.port}" in up.stdout, tail(up)

    verify = cli(root, "verify", "--json", timeout=900)
    assert verify.returncode == 0, tail(verify)
    data = json.loads(verify.stdout)
    failed = {c["name"]: c.get("detail") for c in data["checks"] if not c["ok"]}
    assert data["ok"] is True and not failed, failed
    assert {c["group"] for c in data["checks"]} >= {"db", "dev"}

    down = cli(root, "down", "--volumes", timeout=300)
    assert down.returncode == 0, tail(down)
    assert compose_ps(spec.name) == ""


# -- host mode: the runtime-library project on a bare Ubuntu 24.04 host ---------------------------

PSYCOPG2_ROUND_TRIP = """\
import sys, psycopg2
from pgvector.psycopg2 import register_vector
conn = psycopg2.connect(sys.argv[1])
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
register_vector(conn)
cur.execute("CREATE TABLE IF NOT EXISTS rp_items (id int PRIMARY KEY, embedding vector(3))")
cur.execute("INSERT INTO rp_items VALUES (1, '[1,2,3]'), (2, '[4,5,6]') ON CONFLICT DO NOTHING")
cur.execute("SELECT id, embedding FROM rp_items ORDER BY embedding <-> '[4,4,6]' LIMIT 1")
found, embedding = cur.fetchone()
print(found, [float(v) for v in embedding])
"""


@pytest.fixture(scope="module")
def noble_host(engine: Engine, bare_noble_host_image: str) -> Iterator[Host]:  # noqa: F811
    box = start_host(
        engine, bare_noble_host_image, user="dev", project=f"/home/dev/{HOST_CASE.name}",
        docker_socket=False,
    )  # fmt: skip
    try:
        put_tree(box, PROJECTS / HOST_CASE.project, box.project, "dev")
        yield box
    finally:
        stop_host(box)


def test_host_install_with_db_on_ubuntu(noble_host: Host) -> None:
    code, out = noble_host.devenv("init")
    assert code == 0, out
    assert all(path in out for path in HOST_CASE.requirements), out

    code, out = noble_host.devenv("host-install", "--with-db", timeout=2400)
    assert code == 0, out[-6000:]
    urls = [line.split("=", 1)[1] for line in out.splitlines() if line.startswith("DATABASE_URL=")]
    assert urls, out[-3000:]

    # The run-time libraries, under the release's own names, as in the image.
    for package in sorted(HOST_CASE.apt):
        code, status = noble_host.run(
            ["dpkg-query", "-W", "-f=${Status}", package], user="root", timeout=60
        )
        assert (code, status) == (0, "install ok installed"), f"{package}: {status}"
    python = f"{noble_host.project}/.venv/bin/python"
    code, out = noble_host.run([python, "-c", "import magic, cv2, rapidocr_onnxruntime"])
    assert code == 0, out
    code, out = noble_host.run([python, "-c", PSYCOPG2_ROUND_TRIP, urls[-1]])
    assert (code, out.strip()) == (0, "2 [4.0, 5.0, 6.0]"), out
