"""The plan keys are declared once (devenv.plan.schema): the typed plan, the loaders, init's
template and README's key table all follow the declarations."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from devenv.plan import docs, schema
from devenv.plan.local import LocalOverrides
from devenv.plan.model import Plan, load_plan
from tests.conftest import MakeProject

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_key_table_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert docs.with_table(text) == text, f"README's plan-key table is stale: run `{docs.COMMAND}`"


def test_the_readme_check_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(f"# x\n{docs.START}\n| old |\n{docs.END}\nafter\n")
    assert docs.main(["--check", str(stale)]) == 1
    assert docs.COMMAND in capsys.readouterr().err
    assert docs.main(["--write", str(stale)]) == 0
    assert docs.main(["--check", str(stale)]) == 0
    assert (
        stale.read_text().endswith(f"{docs.END}\nafter\n") and "`[env] vars`" in stale.read_text()
    )


def test_every_key_is_a_field_of_its_sections_dataclass() -> None:
    sections = typing.get_type_hints(Plan)
    for key in schema.KEYS:
        fields = {f.name for f in dataclasses.fields(sections[key.section])}
        assert key.name in fields, key.title
    assert set(schema.SECTIONS) <= set(sections)


def test_local_keys_are_the_overrides_fields_and_its_sections() -> None:
    fields = {f.name for f in dataclasses.fields(LocalOverrides)} - {"path"}
    assert fields == {k.name for k in schema.LOCAL_KEYS}
    assert sorted(schema.LOCAL_SECTIONS) == sorted({k.section for k in schema.LOCAL_KEYS})
    assert len({k.name for k in schema.LOCAL_KEYS}) == len(schema.LOCAL_KEYS)  # flat by name


def test_keys_are_unique_and_sections_contiguous() -> None:
    assert len({(k.section, k.name) for k in schema.KEYS}) == len(schema.KEYS)
    order = [k.section for k in schema.KEYS]
    assert order == sorted(order, key=schema.SECTIONS.index)


def test_the_default_plan_is_the_declared_defaults(make_project: MakeProject) -> None:
    plan = load_plan(make_project(""))
    for key in schema.KEYS:
        if key.default is None:
            continue
        value = getattr(getattr(plan, key.section), key.name)
        assert value == key.check(key.default), key.title


@pytest.mark.parametrize(
    ("rule", "team", "mine", "merged"),
    [
        (schema.Local.REPLACE, 5432, None, 5432),
        (schema.Local.REPLACE, 5432, 5433, 5433),
        (schema.Local.ADD, (1, 2), (2, 3), (1, 2, 3)),
        (schema.Local.ADD, ("a",), (), ("a",)),
        (
            schema.Local.MERGE,
            (("a", 1), ("b", 2)),
            (("b", 3), ("c", 4)),
            (("a", 1), ("b", 3), ("c", 4)),
        ),
    ],
)
def test_local_rules(rule: schema.Local, team: object, mine: object, merged: object) -> None:
    assert rule.merge(team, mine) == merged
