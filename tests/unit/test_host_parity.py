"""devenv parity's comparison, without an engine: the same probes, two sides, the differences."""

from __future__ import annotations

from collections.abc import Sequence

from devenv.flows import parity
from devenv.flows.parity import Difference, Facts

FREEZE = "pip==25.1\nSQLAlchemy==2.0.44\npsycopg-binary==3.3.9\nmylib @ file:///src/mylib\n"


def fake_side(outputs: dict[str, str]) -> parity.Runner:
    def run(argv: Sequence[str]) -> tuple[int, str]:
        for key, out in outputs.items():
            if key in " ".join(argv):
                return 0, out
        return 1, ""

    return run


def test_both_sides_run_the_same_probes() -> None:
    seen: list[tuple[str, ...]] = []

    def record(argv: Sequence[str]) -> tuple[int, str]:
        seen.append(tuple(argv))
        return 0, ""

    parity.collect(record, ["python3"], "/venv")
    assert seen == [
        parity.dpkg_argv(["python3"]),
        ("/venv/bin/python", "-c", "import platform; print(platform.python_version())"),
        ("/venv/bin/python", "-m", "pip", "freeze", "--all"),
    ]


def test_collect_and_compare() -> None:
    host = parity.collect(
        fake_side(
            {
                "dpkg-query": "python3\tinstall ok installed\t3.13.5-1\n",
                "platform": "3.13.5\n",
                "freeze": FREEZE,
            }
        ),
        ["python3", "libpq-dev"],
        "/venv",
    )
    assert host.pip is not None and host.pip["sqlalchemy"] == "SQLAlchemy==2.0.44"
    assert host.pip["mylib"] == "mylib @ file:///src/mylib"
    image = Facts(
        packages={"python3": "3.13.5-1", "libpq-dev": "17.12-0+deb13u1"},
        python="3.13.5",
        pip={**host.pip, "sqlalchemy": "SQLAlchemy==2.0.43", "greenlet": "greenlet==3.2.4"},
    )
    compared, differences = parity.compare(["python3", "libpq-dev"], host, image, python=True)
    assert compared == 2 + 1 + 5
    assert differences == [
        Difference(what="apt libpq-dev", host="(not installed)", image="17.12-0+deb13u1"),
        Difference(what="pip greenlet", host="(not installed)", image="greenlet==3.2.4"),
        Difference(what="pip sqlalchemy", host="SQLAlchemy==2.0.44", image="SQLAlchemy==2.0.43"),
    ]
    assert parity.compare(["python3"], host, host, python=True)[1] == []


def test_upstream_versions_of_debian_versions() -> None:
    assert parity.upstream("1:0.8.0-1+b1") == "0.8.0"
    assert parity.upstream("17.12-0+deb13u1") == "17.12"
    assert parity.upstream("0.8.0") == "0.8.0"


def test_report_text_and_json() -> None:
    same = parity.ParityReport(compared=22, differences=(), notes=("a note",))
    assert same.ok and same.text() == ["note: a note", "parity: no difference in 22 compared items"]
    diff = Difference(what="python", host="3.13.5", image="3.13.6")
    report = parity.ParityReport(compared=3, differences=(diff,), notes=())
    assert not report.ok
    assert report.text() == [
        "parity: 1 difference(s) in 3 items:",
        "  python  host 3.13.5  image 3.13.6",
    ]
    assert report.as_json()["differences"] == [
        {"what": "python", "host": "3.13.5", "image": "3.13.6"}
    ]
