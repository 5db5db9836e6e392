"""How `devenv build` shows a build: a live line on a terminal, plain lines in logs, or quiet."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

from devenv.container.build import Progress, StepRecord, TargetResult


class PlainProgress(Progress):
    """One line per step and per output line: for CI logs and pipes."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream

    def step(self, record: StepRecord) -> None:
        print(
            f"[{record.target} {record.number}/{record.total}] {record.instruction}",
            file=self.stream,
            flush=True,
        )

    def output(self, record: StepRecord, line: str) -> None:
        print(f"  {line}", file=self.stream, flush=True)

    def cached(self, record: StepRecord) -> None:
        print("  (cached)", file=self.stream, flush=True)

    def done(self, result: TargetResult) -> None:
        cached = sum(s.cached for s in result.steps)
        print(
            f"built {result.ref} ({len(result.steps)} steps, {cached} cached)",
            file=self.stream,
            flush=True,
        )


class TerminalProgress(Progress):
    """One live status line: step N of M, the instruction, and the step's latest output."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.head = ""

    def _show(self, text: str) -> None:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.stream.write("\r\x1b[2K" + text[:width])
        self.stream.flush()

    def step(self, record: StepRecord) -> None:
        self.head = f"[{record.target} {record.number}/{record.total}] {record.instruction}"
        self._show(self.head)

    def output(self, record: StepRecord, line: str) -> None:
        self._show(f"{self.head[:60]} | {line.strip()}")

    def cached(self, record: StepRecord) -> None:
        self._show(f"{self.head} (cached)")

    def done(self, result: TargetResult) -> None:
        cached = sum(s.cached for s in result.steps)
        self._show(f"built {result.ref} ({len(result.steps)} steps, {cached} cached)")
        self.stream.write("\n")


class QuietProgress(Progress):
    pass


def choose(quiet: bool, stream: TextIO = sys.stderr) -> Progress:
    if quiet:
        return QuietProgress()
    return TerminalProgress(stream) if stream.isatty() else PlainProgress(stream)
