"""`devenv init` → `devenv up` on every real project in tests/projects, as a new user runs them.

For each project (a folder with a SOURCE.md): copy it to a folder named rp-<project>, run `devenv
init` (untouched), `devenv plan --json`, `devenv up`, then `devenv down --volumes`. Prints one
table: the requirements init chose, what the requirements review added to the dev image (apt
packages beyond the plan's own, and the review's notes), up's exit code, its wall time, and the
last error line when it failed. Never asserted anywhere; tests/integration/test_real_projects.py
asserts what must hold.

    python bench/real_projects.py [PROJECT ...] [--port 56410] [--keep] [--json FILE]

Projects run one after another (two `up` at once would share more than the machine's two
cores); each publishes its database on its own port from --port up through devenv.local.toml,
the personal override, so the plan stays as init wrote it. --keep leaves the services up.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

PROJECTS = Path(__file__).resolve().parents[1] / "tests" / "projects"


@dataclass
class Row:
    project: str
    requirements: str = ""
    added: list[str] = field(default_factory=list)  # apt packages beyond the baseline
    notes: list[str] = field(default_factory=list)  # the review's notes on the dev image
    init_rc: int | None = None
    up_rc: int | None = None
    up_seconds: float | None = None
    error: str = ""


def devenv(root: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "devenv", "-C", str(root), *args]
    print("+ " + " ".join(argv[2:]), file=sys.stderr, flush=True)
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, check=False, env=dict(os.environ),
            timeout=timeout,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(argv, 124, str(exc.stdout or ""), f"timed out: {exc}")


def dev_steps(plan_json: str) -> list[dict[str, object]]:
    plan = json.loads(plan_json)
    return [s for s in plan["container"] if s.get("scope") != "db"]


def apt_packages(steps: list[dict[str, object]]) -> set[str]:
    found: set[str] = set()
    for step in steps:
        for command in step.get("commands", []):  # type: ignore[union-attr]
            words = str(command).split()
            if "apt-get" in str(command) and "install" in words:
                after = words[words.index("install") + 1 :]
                found.update(w.split("=")[0] for w in after if not w.startswith("-"))
    return found


def notes(steps: list[dict[str, object]]) -> list[str]:
    return [str(n) for s in steps for n in s.get("notes", [])]  # type: ignore[union-attr]


def baseline(work: Path) -> tuple[set[str], set[str]]:
    """The dev image's apt packages and notes of the plan init writes for a project with no
    requirements: what any project gets, so not the review's."""
    root = work / "rp-baseline"
    root.mkdir()
    if devenv(root, "init").returncode != 0:
        return set(), set()
    done = devenv(root, "plan", "--json")
    if done.returncode != 0:
        return set(), set()
    steps = dev_steps(done.stdout)
    return apt_packages(steps), set(notes(steps))


def last_error(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.startswith("devenv: error:")]
    text = lines[-1] if lines else (done.stderr.strip().splitlines() or [""])[-1]
    return text if len(text) <= 240 else text[:160] + " … " + text[-70:]


def run_project(
    project: str, work: Path, port: int, base: tuple[set[str], set[str]], keep: bool
) -> Row:
    row = Row(project)
    root = work / f"rp-{project}"
    shutil.copytree(PROJECTS / project, root, ignore=shutil.ignore_patterns("SOURCE.md"))
    init = devenv(root, "init")
    row.init_rc = init.returncode
    said = [
        line.split(":", 1)[1].split(" (")[0].strip()
        for line in (init.stdout + init.stderr).splitlines()
        if line.startswith(("requirements:", "project:"))
    ]
    row.requirements = "; ".join(said)
    if init.returncode != 0:
        row.error = last_error(init)
        return row
    plan = devenv(root, "plan", "--json")
    if plan.returncode == 0:
        steps = dev_steps(plan.stdout)
        row.added = sorted(apt_packages(steps) - base[0])
        row.notes = [n for n in notes(steps) if n not in base[1]]
    (root / "devenv.local.toml").write_text(f"[postgres]\nhost_port = {port}\n")
    start = time.monotonic()
    up = devenv(root, "up")
    row.up_seconds = round(time.monotonic() - start, 1)
    row.up_rc = up.returncode
    if up.returncode != 0:
        row.error = last_error(up)
    if not keep:
        devenv(root, "down", "--volumes", timeout=300)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("projects", nargs="*", help="folders under tests/projects (default: all)")
    parser.add_argument("--port", type=int, default=56410, help="first database host port")
    parser.add_argument("--keep", action="store_true", help="leave the services running")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    known = sorted(p.name for p in PROJECTS.iterdir() if (p / "SOURCE.md").is_file())
    chosen = args.projects or known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        sys.exit(f"not in tests/projects: {', '.join(unknown)} (known: {', '.join(known)})")

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rp-bench-") as tmp:
        work = Path(tmp)
        base = baseline(work)
        for index, project in enumerate(chosen):
            rows.append(run_project(project, work, args.port + index, base, args.keep))
            r = rows[-1]
            print(f"{project}: up rc {r.up_rc} in {r.up_seconds} s", file=sys.stderr, flush=True)

    print("| project | init chose | review added (apt) | up rc | up wall | failed at |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        wall = f"{r.up_seconds:.1f} s" if r.up_seconds is not None else "—"
        rc = r.up_rc if r.up_rc is not None else f"init {r.init_rc}"
        added = ", ".join(r.added) or "—"
        print(f"| {r.project} | {r.requirements} | {added} | {rc} | {wall} | {r.error or '—'} |")
    print()
    for r in rows:
        for note in r.notes:
            print(f"{r.project}: note: {note}")
    passed = sum(1 for r in rows if r.up_rc == 0)
    print(f"\n{passed}/{len(rows)} projects: init → up exit 0")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")


if __name__ == "__main__":
    main()
