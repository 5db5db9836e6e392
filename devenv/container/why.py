"""Why a step re-ran: one small input record per Dockerfile instruction of an image, stored with
the image (its dev.devenv.steps label), and the comparison of the previous image's records with
the new ones for each step the build stream reports as run.

The classic builder and BuildKit say only "cached" or not; the records say what each step read
(its instruction, the files it copies, the packages it installs) and what the whole image reads
(the base image, devenv.lock), so the first step whose inputs differ gets the concrete reason and
the ones after it point back to it. Everything here is pure: the builder reads the labels and
the stream, and hands them in.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from devenv.container.tags import copy_sources
from devenv.plan.lockfile import LOCK_FILE
from devenv.steps.model import Kind, Mode, Phase, Step
from devenv.steps.recipe import Recipe

#: Bumped when the records change shape: a label of another version reads as "no records".
VERSION = 1
DIGEST_LENGTH = 12  # hex digits: enough to tell two inputs apart, short enough for a label

FIRST_BUILD = "first build (no previous image)"
NO_RECORDS = "the previous image has no step records (built by an older devenv)"
PRUNED = "not in the engine's cache (pruned?)"
BASE_CHANGED = "the base image changed"
COMMAND_CHANGED = "its command changed"
INSTRUCTION_CHANGED = "its instruction changed"
# After a layer that re-ran, a later step's new text is no news (it would re-run anyway).
_TEXT_ONLY = (COMMAND_CHANGED, INSTRUCTION_CHANGED)

_TITLE = re.compile(rf"^# (?:{'|'.join(re.escape(p.value) for p in Phase)}): (.+)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:DIGEST_LENGTH]


@dataclass(frozen=True, kw_only=True)
class StepInputs:
    """What one Dockerfile instruction reads."""

    keyword: str  # FROM, COPY, RUN, ENV, ...
    title: str  # the recipe step's title; "" for an image setting (ENV, CMD, ...)
    instruction: str  # a digest of the instruction's text
    files: tuple[tuple[str, str], ...] = ()  # (context path, digest) of what its layer copies
    packages: tuple[str, ...] = ()  # apt packages (pinned as installed), or requirement lines

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"k": self.keyword, "i": self.instruction}
        if self.title:
            out["t"] = self.title
        if self.files:
            out["f"] = dict(self.files)
        if self.packages:
            out["p"] = list(self.packages)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepInputs:
        return cls(
            keyword=str(data["k"]),
            title=str(data.get("t", "")),
            instruction=str(data["i"]),
            files=tuple((str(k), str(v)) for k, v in dict(data.get("f", {})).items()),
            packages=tuple(str(p) for p in data.get("p", ())),
        )


@dataclass(frozen=True, kw_only=True)
class ImageInputs:
    """Every instruction's record, in build order, and what the whole image reads."""

    base: str  # a digest of the base image's identity
    lock: str | None  # a digest of devenv.lock; None without one
    steps: tuple[StepInputs, ...]

    def label(self) -> str:
        data = {
            "v": VERSION,
            "base": self.base,
            "lock": self.lock,
            "steps": [s.as_json() for s in self.steps],
        }
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_label(cls, text: str | None) -> ImageInputs | None:
        """The records a label holds; None when there is none or it is of another version."""
        if not text:
            return None
        try:
            data = json.loads(text)
            if data.get("v") != VERSION:
                return None
            return cls(
                base=str(data["base"]),
                lock=None if data.get("lock") is None else str(data["lock"]),
                steps=tuple(StepInputs.from_json(s) for s in data["steps"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def prefix(self, count: int) -> ImageInputs:
        """The first ``count`` records: the shared stage's part of an image's records."""
        return ImageInputs(base=self.base, lock=self.lock, steps=self.steps[:count])


def image_inputs(
    recipe: Recipe,
    dockerfile: str,
    files: Mapping[str, tuple[int, bytes]],
    *,
    lock: bytes | None,
    base_id: str,
) -> ImageInputs:
    """The records of ``dockerfile`` (one image's Dockerfile, as the build receives it): each
    instruction with the recipe step its comment names, the ``files`` (context path -> (mode,
    bytes)) its layer copies, and the packages it installs."""
    by_title = {s.title: s for s in recipe.container if s.at_build}
    records: list[StepInputs] = []
    titles: list[str] = []  # the comment block of the layer being read
    runs: list[Step] = []  # the step each of the layer's RUN lines is of, in order
    for line in _lines(dockerfile):
        if not line or line.startswith("FROM "):
            titles, runs = [], []
        if not line:
            continue
        if line.startswith("#"):
            match = _TITLE.match(line)
            if match:
                titles.append(match[1])
                runs = _run_owners([by_title[t] for t in titles if t in by_title])
            continue
        records.append(_instruction_inputs(line, titles, runs, files))
    return ImageInputs(
        base=digest(base_id.encode()),
        lock=None if lock is None else digest(lock),
        steps=tuple(records),
    )


def _instruction_inputs(
    line: str, titles: list[str], runs: list[Step], files: Mapping[str, tuple[int, bytes]]
) -> StepInputs:
    """The record of one instruction of the layer whose step titles are ``titles``: a RUN
    takes the next of ``runs`` (the step each of the layer's RUN lines is of) off the list."""
    keyword = line.split(" ", 1)[0].upper()
    title = titles[0] if titles and keyword in ("COPY", "RUN") else ""
    copied: dict[str, str] = {}
    packages: tuple[str, ...] = ()
    if keyword == "COPY":
        copied = _copied(copy_sources(line), files)
    elif keyword == "RUN" and runs:
        step = runs.pop(0)
        title = step.title
        # A RUN reads what its step copied just before it.
        copied = _copied(tuple(source.rstrip("/") for source, _ in step.copies), files)
        packages = _packages(step, copied, files)
    return StepInputs(
        keyword=keyword,
        title=title,
        instruction=digest(line.encode()),
        files=tuple(sorted(copied.items())),
        packages=packages,
    )


def _lines(dockerfile: str) -> Iterable[str]:
    """Lines with backslash continuations joined; blank lines kept (they end a layer)."""
    pending = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if line.endswith("\\") and not line.startswith("#"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def _run_owners(steps: Sequence[Step]) -> list[Step]:
    """The step each RUN line of a layer of ``steps`` comes from, as the Dockerfile renderer
    writes them: the shell commands joined into one RUN until a command carrying a program,
    which gets a RUN of its own."""
    owners: list[Step] = []
    shell: Step | None = None
    for step in steps:
        for command in step.commands_for(Mode.CONTAINER):
            if any("\n" in arg for arg in command.argv):
                if shell is not None:
                    owners.append(shell)
                    shell = None
                owners.append(step)
            elif shell is None:
                shell = step
    if shell is not None:
        owners.append(shell)
    return owners


def _copied(sources: Sequence[str], files: Mapping[str, tuple[int, bytes]]) -> dict[str, str]:
    return {
        path: digest(f"{mode & 0o7777:o}\0".encode() + data)
        for path, (mode, data) in files.items()
        if any(s == "." or path == s or path.startswith(s + "/") for s in sources)
    }


def _packages(
    step: Step, copied: Mapping[str, str], files: Mapping[str, tuple[int, bytes]]
) -> tuple[str, ...]:
    """An apt step's packages as installed (with devenv.lock's pins); a requirements install's
    requirement lines (name and version, without hashes or options)."""
    if step.kind is Kind.APT:
        return step.packages
    if step.kind is Kind.PIP_INSTALL:
        lines = [
            r for path in copied for r in requirement_lines(files[path][1].decode(errors="replace"))
        ]
        return tuple(dict.fromkeys(lines))
    return ()


def requirement_lines(text: str) -> list[str]:
    """Each requirement of a requirements file as its first word: `name[extra]==version`."""
    out: list[str] = []
    for line in _lines(text):
        words = line.split("#", 1)[0].split()
        if words and not words[0].startswith("-"):
            out.append(words[0])
    return out


# -- the comparison --------------------------------------------------------------------------


class Reported(Protocol):
    """A step as the build stream reported it (build.StepRecord)."""

    @property
    def instruction(self) -> str: ...
    @property
    def cached(self) -> bool: ...


@dataclass(frozen=True, kw_only=True)
class Reason:
    """Why one step re-ran; ``number`` None: the whole image (a first build)."""

    number: int | None
    title: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"step": self.number, "title": self.title, "reason": self.reason}

    def line(self, target: str) -> str:
        """`dev step 14 (Install requirements.txt with pip): requirements.txt changed`."""
        if self.number is None:
            return f"{target}: {self.reason}"
        return f"{target} step {self.number} ({_short(self.title, 40)}): {self.reason}"


def lines(target: str, found: Sequence[Reason]) -> list[str]:
    """The text output: one line per reason, except that a run of consecutive steps with one
    reason (everything above a changed layer) is one line: `dev steps 10-17: re-ran because
    step 9's layer changed`."""
    out: list[str] = []
    index = 0
    while index < len(found):
        first = found[index]
        end = index
        while (
            first.number is not None
            and end + 1 < len(found)
            and found[end + 1].reason == first.reason
            and found[end + 1].number == (found[end].number or 0) + 1
        ):
            end += 1
        if end == index:
            out.append(first.line(target))
        else:
            out.append(f"{target} steps {first.number}-{found[end].number}: {first.reason}")
        index = end + 1
    return out


def reasons(
    old: ImageInputs | None, new: ImageInputs, reported: Sequence[Reported], *, had_image: bool
) -> tuple[Reason, ...]:
    """For each reported step that re-ran (neither cached nor a FROM), why: the first step
    whose inputs differ names what changed; those after it, that step's layer; a step whose
    inputs are the same but ran anyway was not in the cache. ``had_image``: an image of this
    target was on the engine before the build."""
    reported = _ours(reported, new)
    if not any(_reran(s) for s in reported):
        return ()
    if old is None:
        return (Reason(number=None, title="", reason=FIRST_BUILD if not had_image else NO_RECORDS),)
    matched = _match(old.steps, new.steps)
    out: list[Reason] = []
    cause: tuple[int, str, bool] | None = None  # (number, reason, re-ran in this build)
    for i, step in enumerate(reported):
        record = new.steps[i]
        own = _changed(old, new, i, matched.get(i))
        ran = _reran(step)
        if ran:
            if own and not (cause and cause[2] and own in _TEXT_ONLY):
                reason = own
            elif cause is None:
                reason = PRUNED
            elif cause[2]:
                reason = f"re-ran because step {cause[0]}'s layer changed"
            else:
                reason = cause[1] if cause[0] == 1 else f"step {cause[0]} changed: {cause[1]}"
            title = record.title or _short(step.instruction)
            out.append(Reason(number=i + 1, title=title, reason=reason))
        if (own or ran) and (cause is None or (ran and not cause[2])):
            cause = (i + 1, own or PRUNED, ran)
    return tuple(out)


#: The instructions BuildKit shows as steps of their own; the others (ENV, USER, CMD, LABEL...)
#: only change the image's config, so no step reports them.
BUILDKIT_STEPS = frozenset({"FROM", "COPY", "ADD", "RUN", "WORKDIR"})


@dataclass(frozen=True)
class _Unreported:
    """An instruction BuildKit did not report: it ran nothing, so it re-ran nothing."""

    instruction: str
    cached: bool = True


def buildkit_steps(new: ImageInputs, reported: Sequence[Reported]) -> tuple[Reported, ...] | None:
    """BuildKit's steps of one image (its shared stage's and its own, in order) lined up with
    the image's records, one per instruction: what BuildKit does not show stands in as cached,
    and a FROM of an earlier stage may be missing. None when they do not line up (a reason
    would then name the wrong step: better none)."""
    waiting = list(reported)
    out: list[Reported] = []
    for record in new.steps:
        shown = waiting and _keyword(waiting[0].instruction) == record.keyword
        if record.keyword in BUILDKIT_STEPS and shown:
            out.append(waiting.pop(0))
        elif record.keyword in BUILDKIT_STEPS and record.keyword != "FROM":
            return None
        else:
            out.append(_Unreported(instruction=record.keyword))
    return tuple(out) if not waiting else None


def _ours(reported: Sequence[Reported], new: ImageInputs) -> Sequence[Reported]:
    """The reported steps the records describe: not the LABEL step the engine adds at the end
    for the build's labels, nor anything after a step of another Dockerfile."""
    for i, step in enumerate(reported):
        if i >= len(new.steps) or _keyword(step.instruction) != new.steps[i].keyword:
            return reported[:i]
    return reported


def _keyword(instruction: str) -> str:
    return instruction.split(" ", 1)[0].upper()


def _reran(step: Reported) -> bool:
    return not step.cached and _keyword(step.instruction) != "FROM"


def _short(instruction: str, width: int = 50) -> str:
    text = " ".join(instruction.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _keys(steps: Sequence[StepInputs]) -> list[tuple[int, str, str, int]]:
    """Each record's place, independent of steps inserted before it: (stage, keyword, title,
    how many such records came before it in the stage)."""
    keys: list[tuple[int, str, str, int]] = []
    stage = 0
    seen: dict[tuple[int, str, str], int] = {}
    for step in steps:
        stage += step.keyword == "FROM"
        key = (stage, step.keyword, step.title)
        keys.append((*key, seen.get(key, 0)))
        seen[key] = seen.get(key, 0) + 1
    return keys


def _match(old: Sequence[StepInputs], new: Sequence[StepInputs]) -> dict[int, StepInputs]:
    """New record index -> the old record at the same place."""
    olds = dict(zip(_keys(old), old, strict=True))
    return {i: olds[k] for i, k in enumerate(_keys(new)) if k in olds}


def _changed(old: ImageInputs, new: ImageInputs, index: int, before: StepInputs | None) -> str:
    """What differs in step ``index``'s inputs, "" when nothing does."""
    step = new.steps[index]
    if index == 0 and old.base != new.base:
        return BASE_CHANGED
    if before is None:
        return "a new step"
    parts = _file_changes(dict(before.files), dict(step.files))
    packages = _package_changes(before.packages, step.packages, lock_changed=old.lock != new.lock)
    if packages:
        parts.append(packages)
    if not parts and before.instruction != step.instruction:
        parts.append(COMMAND_CHANGED if step.keyword == "RUN" else INSTRUCTION_CHANGED)
    return "; ".join(parts)


def _file_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for path in sorted(old.keys() | new.keys()):
        if path not in old:
            out.append(f"{path} added")
        elif path not in new:
            out.append(f"{path} removed")
        elif old[path] != new[path]:
            out.append(f"{path} changed")
    return out


def _package_changes(old: Sequence[str], new: Sequence[str], *, lock_changed: bool) -> str:
    """`packages added: a, b; removed: c; versions: d 1 → 2` (what differs, by name)."""
    before = {_name(p): p for p in old}
    after = {_name(p): p for p in new}
    added = [p for n, p in after.items() if n not in before]
    removed = [p for n, p in before.items() if n not in after]
    versions = [
        f"{n} {_version(before[n])} → {_version(after[n])}"
        for n in after
        if n in before and before[n] != after[n]
    ]
    parts = []
    if added:
        parts.append("packages added: " + ", ".join(added))
    if removed:
        parts.append(("removed: " if added else "packages removed: ") + ", ".join(removed))
    if versions:
        word = f"{LOCK_FILE} changed the pins" if lock_changed else "versions"
        parts.append(f"{word}: " + ", ".join(versions))
    return "; ".join(parts)


def _name(spec: str) -> str:
    """`libpq-dev=16.1-1` -> libpq-dev; `Psycopg[binary]==3.2` -> psycopg (pip's folding)."""
    match = _NAME.match(spec)
    return re.sub(r"[-_.]+", "-", (match[0] if match else spec)).lower()


def _version(spec: str) -> str:
    match = _NAME.match(spec)
    rest = re.sub(r"^\[[^\]]*\]", "", spec[match.end() if match else 0 :])
    return rest.lstrip("=<>!~") or "any"
