"""Reading devenv.toml and devenv.local.toml: the text, the TOML, and each table checked
against the declared keys (devenv.plan.schema), or a PlanError that says where."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv.errors import PlanError
from devenv.fs import safety
from devenv.plan import schema
from devenv.plan.checks import kind_name, near

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAX_TEXT = 1024 * 1024  # a plan is configuration: bigger is a mistake (or /dev/zero)
TEAMS = "belongs to the team's devenv.toml, not to local overrides"

Values = dict[str, dict[str, Any]]  # section -> key -> the plan's value


@dataclass(frozen=True, kw_only=True)
class PlanFile:
    """A file being read, to say where a problem is."""

    path: Path
    text: str = ""
    hint: str | None = None  # said with every problem in it, unless one has its own

    def error(
        self, section: str, key: str | None, message: str, hint: str | None = None
    ) -> PlanError:
        where = f"[{section}] {key}" if key else f"[{section}]"
        line = line_of(self.text, section, key)
        return PlanError(
            f"{self.path}{f':{line}' if line else ''}: {where}: {message}", hint=hint or self.hint
        )


def read_text(path: Path, *, what: str) -> str:
    """A UTF-8 file devenv reads, or one line: exit 1 when it can't be read, 2 when it is not
    UTF-8 text."""
    data = safety.read_bounded(path, limit=MAX_TEXT, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError(
            f"{path}: the {what} is not UTF-8 text (byte {exc.start})", hint="save it as UTF-8"
        ) from None


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # tables or arrays nested thousands deep
        raise PlanError(f"{path}: invalid TOML: nested too deep") from None


def read_values(
    data: dict[str, Any],
    file: PlanFile,
    keys: tuple[schema.Key, ...] = schema.KEYS,
    sections: tuple[str, ...] = schema.SECTIONS,
    *,
    defaults: bool = True,
) -> Values:
    """The values of `keys` (in `sections`) the file sets, each checked; with `defaults`, the
    keys it leaves out too (None: derived later). A declared key outside `keys` is the team's."""
    for section, table in data.items():
        if section not in sections:
            known = section in schema.SECTIONS
            raise file.error(
                section, None, TEAMS if known else f"unknown section{near(section, sections)}"
            )
        if not isinstance(table, dict):
            raise file.error(section, None, "must be a table")
    values: Values = {}
    for section in sections:
        table = data.get(section, {})
        declared = schema.in_section(section, keys)
        names = tuple(k.name for k in declared)
        for name in table:
            if name not in names:
                known = schema.find(section, name) is not None
                raise file.error(
                    section, name, TEAMS if known else f"unknown key{near(name, names)}"
                )
        values[section] = {
            key.name: _value(key, table.get(key.name, key.default), file)
            for key in declared
            if defaults or key.name in table
        }
    return values


def _value(key: schema.Key, value: Any, file: PlanFile) -> Any:
    if value is None:  # no TOML value is None: a default derived when the plan is loaded
        return None
    kind = key.kind
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise file.error(
            key.section, key.name, f"must be {kind_name(kind)}, not {kind_name(type(value))}"
        )
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, key.item) or (isinstance(item, bool) and key.item is int):
                raise file.error(
                    key.section, key.name, f"items must be {kind_name(key.item)}, got {item!r}"
                )
        if len(set(value)) != len(value):
            raise file.error(key.section, key.name, "lists a value twice")
    try:
        return key.check(value)
    except ValueError as exc:
        raise file.error(key.section, key.name, str(exc)) from None


def line_of(text: str, section: str, key: str | None) -> int | None:
    """Best-effort line number of `key` in `[section]`, for messages (tomllib has no positions)."""
    current = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.fullmatch(r"\[\s*([A-Za-z0-9_-]+)\s*\](?:\s*#.*)?", stripped)
        if header:
            current = header.group(1)
            if key is None and current == section:
                return number
        elif current == section and key and re.match(rf"{re.escape(key)}\s*=", stripped):
            return number
    return None
