"""Env files (`.env`, and the files `[env] files` names) and the environment a command gets.

Compose reads the same files for the app container (compose.yaml's `env_file`), so devenv
accepts only the part of the dotenv format on which it and Compose agree: `KEY=VALUE` lines,
an optional `export `, `#` comments, values bare, 'single-quoted' (literal) or "double-quoted"
(with \\n, \\t, \\" and \\\\). A `$` outside single quotes is refused: Compose would substitute
it and devenv would not, so the same file would give two values.

Precedence, lowest first — the same in the container and on the host:
  `.env` < the plan's `[env] files`, in order < `[env] vars` < what devenv sets for the
  database (DATABASE_URL, PGHOST, PGPORT, PGUSER, PGDATABASE; PGPASSWORD from .devenv/db.env).
On the host the command starts from your shell's environment, with these on top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from devenv.errors import PlanError

DOTENV = ".env"
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Set by devenv from the database it connects the app to: no file or plan var may set them.
RESERVED = frozenset(
    {"DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "POSTGRES_PASSWORD"}
)
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


@dataclass(frozen=True, kw_only=True)
class EnvFile:
    path: str  # project-relative
    values: tuple[tuple[str, str], ...]


def parse(text: str, where: str) -> tuple[tuple[str, str], ...]:
    """KEY=VALUE pairs in file order (a later KEY wins, as in Compose); PlanError naming the
    line otherwise."""
    pairs: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue

        def fail(message: str, n: int = number) -> PlanError:
            return PlanError(
                f"{where}:{n}: {message}", hint="see `devenv run --help` for the format"
            )

        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not KEY.fullmatch(key):
            raise fail("expected KEY=VALUE (KEY: letters, digits, _; not starting with a digit)")
        value = value.strip()
        if value.startswith("'"):
            end = value.find("'", 1)
            if end < 0 or (
                value[end + 1 :].strip() and not value[end + 1 :].strip().startswith("#")
            ):
                raise fail("a single-quoted value must close on its line")
            value = value[1:end]
        elif value.startswith('"'):
            out, i = [], 1
            while i < len(value) and value[i] != '"':
                if value[i] == "\\" and i + 1 < len(value):
                    out.append(_ESCAPES.get(value[i + 1], "\\" + value[i + 1]))
                    i += 2
                    continue
                if value[i] == "$":
                    raise fail("'$' in a double-quoted value: Compose would substitute it; "
                               "use single quotes for a literal $")  # fmt: skip
                out.append(value[i])
                i += 1
            rest = value[i + 1 :].strip()
            if i >= len(value) or (rest and not rest.startswith("#")):
                raise fail("a double-quoted value must close on its line")
            value = "".join(out)
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].rstrip()
            if "$" in value:
                raise fail("'$' in a value: Compose would substitute it; "
                           "use single quotes for a literal $")  # fmt: skip
        if any(ord(c) < 32 and c not in "\n\t" for c in value):
            raise fail("a control character in the value")
        if key in RESERVED:
            raise fail(f"{key} is set by devenv for the database it connects the app to")
        pairs.append((key, value))
    return tuple(pairs)


def read(project_dir: Path, rel: str, *, required: bool) -> EnvFile | None:
    path = project_dir / rel
    if not path.exists():
        if required:
            raise PlanError(
                f"{path}: the env file [env] files names does not exist",
                hint="create it, or remove it from [env] files in devenv.toml",
            )
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: can't read the env file: {exc}") from None
    return EnvFile(path=rel, values=parse(text, str(path)))


def layered(
    project_dir: Path, files: tuple[str, ...], plan_vars: tuple[tuple[str, str], ...]
) -> dict[str, str]:
    """`.env` (when present), then each of `files`, then the plan's vars: later wins."""
    env: dict[str, str] = {}
    found = [read(project_dir, DOTENV, required=False)]
    found += [read(project_dir, rel, required=True) for rel in files if rel != DOTENV]
    for env_file in found:
        if env_file is not None:
            env.update(env_file.values)
    env.update(plan_vars)
    return env
