"""README's plan-key table, made from the declarations (devenv.plan.schema).

`python3 -m devenv.plan.docs --write README.md` rewrites it between its markers; `--check`
exits 1 when it is stale. A unit test runs the check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devenv.plan import schema

START = "<!-- plan-keys:start -->"
END = "<!-- plan-keys:end -->"
COMMAND = "python3 -m devenv.plan.docs --write README.md"


def key_table() -> str:
    """One row per key, in the plan's order: its default and what it means, and how
    devenv.local.toml may set it (blank: only devenv.toml)."""
    rows = [
        "| key | default | in devenv.local.toml | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for key in schema.KEYS:
        default = key.default_doc or f"`{key.toml_default()}`"
        local = "" if key.local is schema.Local.NO else key.local.value
        cells = (f"`{key.title}`", default, local, key.doc)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


def with_table(text: str) -> str:
    """`text` (README.md) with the key table between its markers made anew."""
    head, start, rest = text.partition(START + "\n")
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"no {START} ... {END} markers")
    return head + start + key_table() + end + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m devenv.plan.docs", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", metavar="FILE", type=Path, help="rewrite FILE's key table")
    action.add_argument("--check", metavar="FILE", type=Path, help="exit 1 when it is stale")
    args = parser.parse_args(argv)
    path: Path = args.write or args.check
    text = path.read_text(encoding="utf-8")
    try:
        fresh = with_table(text)
    except ValueError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if fresh != text:
            print(f"{path}: the plan-key table is stale; run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    if fresh != text:
        path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
