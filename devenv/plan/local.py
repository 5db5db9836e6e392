"""devenv.local.toml: one developer's overrides, git-ignored, merged over the plan.

Only what is personal may be set, each validated exactly as the plan validates it:
  [postgres] host_port           replaces the plan's (another port on this machine)
  [devcontainer] forward_ports   added to the plan's
  [devcontainer] extensions      added to the plan's
  [devcontainer] settings        merged over the plan's (a key here wins)
  [system] packages              added to the plan's: host-install installs them; the app
                                 container runs an image of this machine's own, the team's dev
                                 stage plus them (.devenv/Dockerfile.local)
The committed files (compose.yaml, devcontainer.json, the Dockerfile) never depend on it;
devenv passes the overrides to compose and VS Code through .devenv/compose.local.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv.errors import PlanError

if TYPE_CHECKING:
    from devenv.plan.model import LocalOverrides, Plan

LOCAL_FILE = "devenv.local.toml"
ALLOWED = {
    "postgres": ("host_port",),
    "devcontainer": ("forward_ports", "extensions", "settings"),
    "system": ("packages",),
}


def read_local(project_dir: Path, plan: Plan) -> LocalOverrides | None:
    from devenv.plan import model as plan_module

    path = project_dir / LOCAL_FILE
    if not path.is_file():
        return None
    from devenv.files.safety import inside

    inside(project_dir, LOCAL_FILE, what="local overrides")
    text = plan_module.read_text(path, what="local overrides")
    data = plan_module.parse_toml(text, path)

    def fail(section: str, key: str | None, message: str) -> PlanError:
        where = f"[{section}] {key}" if key else f"[{section}]"
        line = plan_module._line_of(text, section, key)
        return PlanError(
            f"{path}{f':{line}' if line else ''}: {where}: {message}",
            hint=f"{LOCAL_FILE} may set only: "
            + "; ".join(f"[{s}] {', '.join(keys)}" for s, keys in ALLOWED.items()),
        )

    values: dict[str, Any] = {}
    for section, table in data.items():
        if section not in ALLOWED:
            if section in plan_module.SCHEMA:
                raise fail(
                    section, None, "belongs to the team's devenv.toml, not to local overrides"
                )
            raise fail(
                section, None, f"unknown section{plan_module._near(section, tuple(ALLOWED))}"
            )
        if not isinstance(table, dict):
            raise fail(section, None, "must be a table")
        for key, value in table.items():
            if key not in ALLOWED[section]:
                why = (
                    "belongs to the team's devenv.toml, not to local overrides"
                    if key in plan_module.SCHEMA[section]
                    else f"unknown key{plan_module._near(key, ALLOWED[section])}"
                )
                raise fail(section, key, why)
            kind, default, check = plan_module.SCHEMA[section][key]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise fail(
                    section,
                    key,
                    f"must be {plan_module._kind(kind)}, not {plan_module._kind(type(value))}",
                )
            if isinstance(value, list):
                inner = type(default[0]) if default else str
                for item in value:
                    if not isinstance(item, inner) or (isinstance(item, bool) and inner is int):
                        raise fail(section, key, f"items must be {plan_module._kind(inner)}, "
                                   f"got {item!r}")  # fmt: skip
                if len(set(value)) != len(value):
                    raise fail(section, key, "lists a value twice")
            try:
                values[key] = check(value)
            except ValueError as exc:
                raise fail(section, key, str(exc)) from None
    return plan_module.LocalOverrides(
        path=path,
        host_port=values.get("host_port"),
        forward_ports=values.get("forward_ports", ()),
        extensions=values.get("extensions", ()),
        settings=values.get("settings", ()),
        packages=values.get("packages", ()),
    )


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
