"""devenv.local.toml: one developer's overrides, git-ignored, merged over the plan.

Only what is personal may be set: the keys devenv.plan.schema declares with a `local` rule
(the db port replaces the plan's; ports, extensions and apt packages are added; VS Code
settings merged over), each validated exactly as the plan validates it. Extra packages are
installed by host-install; the app container runs an image of this machine's own, the team's
dev stage plus them (.devenv/Dockerfile.local).
The committed files (compose.yaml, devcontainer.json, the Dockerfile) never depend on it;
devenv passes the overrides to compose and VS Code through .devenv/compose.local.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv.fs.safety import inside
from devenv.plan import schema
from devenv.plan.read import PlanFile, parse_toml, read_text, read_values

LOCAL_FILE = "devenv.local.toml"


@dataclass(frozen=True, kw_only=True)
class LocalOverrides:
    """What devenv.local.toml sets (schema.LOCAL_KEYS, by name): a port, extra
    ports/extensions/packages, settings."""

    path: Path
    host_port: int | None = None
    forward_ports: tuple[int, ...] = ()
    extensions: tuple[str, ...] = ()
    settings: tuple[tuple[str, Any], ...] = ()
    packages: tuple[str, ...] = ()


def read_local(project_dir: Path) -> LocalOverrides | None:
    path = project_dir / LOCAL_FILE
    if not path.is_file():
        return None
    inside(project_dir, LOCAL_FILE, what="local overrides")
    text = read_text(path, what="local overrides")
    data = parse_toml(text, path)
    allowed = "; ".join(
        f"[{section}] {', '.join(k.name for k in schema.in_section(section, schema.LOCAL_KEYS))}"
        for section in schema.LOCAL_SECTIONS
    )
    file = PlanFile(path=path, text=text, hint=f"{LOCAL_FILE} may set only: {allowed}")
    values: dict[str, Any] = {}
    for one in _one_by_one(data):  # the first problem a reader meets is the one said
        read = read_values(one, file, schema.LOCAL_KEYS, schema.LOCAL_SECTIONS, defaults=False)
        values.update(item for table in read.values() for item in table.items())
    return LocalOverrides(path=path, **values)


def _one_by_one(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The file's keys, one a table, in its order (a table that is empty or no table, whole)."""
    out: list[dict[str, Any]] = []
    for section, table in data.items():
        if isinstance(table, dict) and table:
            out += [{section: {name: value}} for name, value in table.items()]
        else:
            out.append({section: table})
    return out


def describe(local: LocalOverrides | None) -> list[str]:
    """Lines for `devenv plan`: what this machine's devenv.local.toml changes."""
    if local is None:
        return []
    lines = [f"local overrides ({local.path.name}, not in the generated files):"]
    if local.host_port is not None:
        lines.append(f"  [postgres] host_port = {local.host_port}")
    for name, items in (
        ("[devcontainer] forward_ports +", local.forward_ports),
        ("[devcontainer] extensions +", local.extensions),
        ("[system] packages +", local.packages),
    ):
        if items:
            lines.append(f"  {name} {', '.join(map(str, items))}")
    for key, value in local.settings:
        lines.append(f"  [devcontainer] settings {key} = {value!r}")
    return lines
