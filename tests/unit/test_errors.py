"""What a user reads when something fails: one line, whose hint survives any length."""

from __future__ import annotations

from devenv.errors import MESSAGE_LIMIT, BuildError, printable


def test_a_long_message_loses_its_middle_and_keeps_its_hint() -> None:
    words = " ".join(f"word{i}" for i in range(800))
    error = BuildError(
        f"building the dev image failed at step 15/19: {words} cframe end-of-output",
        hint="greenlet 3.1.0 is the first with wheels for CPython 3.13",
    )
    line = error.one_line()
    assert "\n" not in line
    assert line.startswith("building the dev image failed at step 15/19")
    assert "cframe end-of-output" in line  # the failure's own last words
    assert line.endswith("(greenlet 3.1.0 is the first with wheels for CPython 3.13)")
    assert "…" in line and len(line) < MESSAGE_LIMIT + 100


def test_printable_keeps_head_and_tail_within_the_limit() -> None:
    text = "a" * 400 + "b" * 400
    out = printable(text, limit=100)
    assert len(out) == 100
    assert out.startswith("a" * 49) and out.endswith("b" * 50) and out[49] == "…"
    assert printable("short") == "short"
