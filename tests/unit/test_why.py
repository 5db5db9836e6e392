"""Why steps re-ran, without an engine: the records of a recipe's Dockerfile, their label, and
the comparison with the previous image's records for the steps a build stream reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devenv.container import why
from devenv.container.build import StepRecord, TargetResult, _saying_why
from devenv.container.stages import SHARED_STAGE, stage_dockerfile
from devenv.container.tags import copied_files, copy_sources
from devenv.container.why import (
    BASE_CHANGED,
    FIRST_BUILD,
    NO_RECORDS,
    PRUNED,
    ImageInputs,
    Reason,
    StepInputs,
    image_inputs,
    reasons,
    requirement_lines,
)
from devenv.plan.model import load_plan
from devenv.render.dockerfile import render_dockerfile
from devenv.review import source_builds
from devenv.review.resolver import ResolveError
from devenv.steps.recipe import compile_plan

BASE_ID = "sha256:" + "1" * 64
PLAN = '[environment]\nname = "why"\nbase = "ubuntu:24.04"\n\n[system]\npackages = ["git"]\n'


@pytest.fixture(autouse=True)
def no_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    """The review's table is enough here (which wheels exist does not matter to the records)."""

    def unresolved(*_: Any) -> None:
        raise ResolveError("not asked in these tests", unreachable=True)

    monkeypatch.setattr(source_builds, "resolve", unresolved)


@dataclass
class Reported:
    instruction: str
    cached: bool


def project(
    tmp_path: Path, *, packages: str = '"git"', requirements: str = "six==1.17.0\n"
) -> Path:
    (tmp_path / "devenv.toml").write_text(PLAN.replace('"git"', packages))
    (tmp_path / "requirements.txt").write_text(requirements)
    return tmp_path


def inputs(root: Path, target: str = "dev", base_id: str = BASE_ID) -> ImageInputs:
    recipe = compile_plan(load_plan(root))
    dockerfile = stage_dockerfile(render_dockerfile(recipe), target)
    context = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    files = copied_files(root, copy_sources(dockerfile), context)
    return image_inputs(recipe, dockerfile, files, lock=None, base_id=base_id)


def stream(records: ImageInputs, first_run: int | None) -> list[Reported]:
    """The build stream of ``records``: cached up to step ``first_run`` (1-based), run from it."""
    return [
        Reported(
            instruction=f"{s.keyword} …",
            cached=first_run is None or i + 1 < first_run,
        )
        for i, s in enumerate(records.steps)
    ]


def number_of(records: ImageInputs, keyword: str, title_start: str) -> int:
    return next(
        i + 1
        for i, s in enumerate(records.steps)
        if s.keyword == keyword and s.title.startswith(title_start)
    )


def test_the_label_round_trips_and_other_versions_read_as_none(tmp_path: Path) -> None:
    records = inputs(project(tmp_path))
    assert ImageInputs.from_label(records.label()) == records
    assert len(records.label()) < 2000
    for text in (None, "", "{", '{"v": 99, "steps": []}', "[]", '{"v": 1}'):
        assert ImageInputs.from_label(text) is None


def test_records_name_titles_files_and_packages(tmp_path: Path) -> None:
    records = inputs(project(tmp_path))
    keywords = [s.keyword for s in records.steps]
    assert keywords[0] == "FROM" and keywords.count("FROM") == 2
    apt = records.steps[number_of(records, "RUN", "System packages") - 1]
    assert "git" in apt.packages and "python3" in apt.packages
    install = records.steps[number_of(records, "RUN", "Install requirements.txt") - 1]
    assert [path for path, _ in install.files] == ["requirements.txt"]
    assert install.packages == ("six==1.17.0",)
    copy = records.steps[number_of(records, "COPY", "Install requirements.txt") - 1]
    assert copy.files == install.files and not copy.packages


def test_requirement_lines_drop_comments_options_and_hashes() -> None:
    text = "# pins\n-r other.txt\nsix==1.17.0 \\\n    --hash=sha256:00\nPyYAML==6.0 # yaml\n\n"
    assert requirement_lines(text) == ["six==1.17.0", "PyYAML==6.0"]


def test_a_requirements_edit_names_the_file_and_its_packages(tmp_path: Path) -> None:
    old = inputs(project(tmp_path))
    new = inputs(project(tmp_path, requirements="six==1.16.0\nrich==13.7.1\n"))
    first = number_of(new, "COPY", "Install requirements.txt")
    got = reasons(old, new, stream(new, first), had_image=True)
    assert [r.number for r in got] == list(range(first, len(new.steps) + 1))
    assert got[0].reason == "requirements.txt changed"
    assert got[1].reason == (
        "requirements.txt changed; packages added: rich==13.7.1; versions: six 1.17.0 → 1.16.0"
    )
    assert got[1].title == "Install requirements.txt with uv"
    assert all(r.reason == f"re-ran because step {first}'s layer changed" for r in got[2:])
    assert got[1].line("dev") == (
        f"dev step {first + 1} (Install requirements.txt with uv): " + got[1].reason
    )


def test_a_system_package_names_the_apt_step(tmp_path: Path) -> None:
    old = inputs(project(tmp_path))
    new = inputs(project(tmp_path, packages='"jq"'))
    apt = number_of(new, "RUN", "System packages")
    got = reasons(old, new, stream(new, apt), had_image=True)
    assert got[0].number == apt
    assert got[0].reason == "packages added: jq; removed: git"
    assert got[1].reason == f"re-ran because step {apt}'s layer changed"


def test_the_base_image_changed(tmp_path: Path) -> None:
    old = inputs(project(tmp_path))
    new = inputs(tmp_path, base_id="sha256:" + "2" * 64)
    got = reasons(old, new, stream(new, 2), had_image=True)
    assert got[0].number == 2 and got[0].reason == BASE_CHANGED
    assert got[1].reason == "re-ran because step 2's layer changed"


def test_steps_cached_in_this_stream_still_give_the_cause(tmp_path: Path) -> None:
    """The dev build after the shared stage's own: the shared steps are cached here, the first
    dev step that ran says what changed before it."""
    old = inputs(project(tmp_path))
    new = inputs(tmp_path, base_id="sha256:" + "2" * 64)
    first_dev = new.steps.index(next(s for s in new.steps[1:] if s.keyword == "FROM")) + 2
    got = reasons(old, new, stream(new, first_dev), had_image=True)
    assert got[0].reason == BASE_CHANGED
    assert got[1].reason == f"re-ran because step {first_dev}'s layer changed"


def test_nothing_ran_nothing_to_say_and_first_builds_say_so_once(tmp_path: Path) -> None:
    records = inputs(project(tmp_path))
    assert reasons(records, records, stream(records, None), had_image=True) == ()
    assert reasons(None, records, stream(records, None), had_image=False) == ()
    first = reasons(None, records, stream(records, 2), had_image=False)
    assert [(r.number, r.reason) for r in first] == [(None, FIRST_BUILD)]
    assert first[0].line("dev") == f"dev: {FIRST_BUILD}"
    unlabelled = reasons(None, records, stream(records, 2), had_image=True)
    assert [r.reason for r in unlabelled] == [NO_RECORDS]


def test_the_same_inputs_run_again_were_not_in_the_cache(tmp_path: Path) -> None:
    records = inputs(project(tmp_path))
    got = reasons(records, records, stream(records, 2), had_image=True)
    assert got[0].reason == PRUNED
    assert got[1].reason == "re-ran because step 2's layer changed"


def test_a_label_step_after_the_records_is_no_step_of_ours(tmp_path: Path) -> None:
    records = inputs(project(tmp_path))
    reported = [*stream(records, None), Reported(instruction='LABEL "a"=b', cached=False)]
    assert reasons(records, records, reported, had_image=True) == ()


def test_an_inserted_step_keeps_the_later_ones_matched() -> None:
    def step(keyword: str, title: str, digest: str = "0") -> StepInputs:
        return StepInputs(keyword=keyword, title=title, instruction=digest)

    old = ImageInputs(base="b", lock=None, steps=(step("FROM", ""), step("RUN", "a")))
    new = ImageInputs(
        base="b",
        lock=None,
        steps=(step("FROM", ""), step("RUN", "new"), step("RUN", "a"), step("CMD", "", "1")),
    )
    reported = [Reported(instruction=f"{s.keyword} x", cached=False) for s in new.steps]
    got = reasons(old, new, reported, had_image=True)
    assert [r.reason for r in got] == [
        "a new step",
        "re-ran because step 2's layer changed",
        "a new step",
    ]


def test_lock_pins_are_named_as_the_lock(tmp_path: Path) -> None:
    def apt(*packages: str) -> StepInputs:
        return StepInputs(
            keyword="RUN", title="System packages", instruction="x", packages=packages
        )

    old = ImageInputs(base="b", lock="1", steps=(apt("git=1:2.39-1"),))
    new = ImageInputs(base="b", lock="2", steps=(apt("git=1:2.39-2"),))
    got = reasons(old, new, [Reported(instruction="RUN apt-get", cached=False)], had_image=True)
    assert got[0].reason == "devenv.lock changed the pins: git 1:2.39-1 → 1:2.39-2"


def test_a_changed_command_is_said_when_nothing_else_is(tmp_path: Path) -> None:
    old = ImageInputs(
        base="b", lock=None, steps=(StepInputs(keyword="RUN", title="t", instruction="1"),)
    )
    new = ImageInputs(
        base="b", lock=None, steps=(StepInputs(keyword="RUN", title="t", instruction="2"),)
    )
    got = reasons(old, new, [Reported(instruction="RUN x", cached=False)], had_image=True)
    assert got[0].reason == "its command changed"


def test_the_text_folds_consecutive_steps_that_re_ran_for_one_reason() -> None:
    layer = "re-ran because step 9's layer changed"
    found = (
        Reason(number=9, title="System packages", reason="packages added: jq"),
        *(Reason(number=n, title=f"step {n}", reason=layer) for n in range(10, 18)),
        Reason(number=19, title="Smoke", reason=layer),  # not consecutive: its own line
    )
    assert why.lines("dev", found) == [
        "dev step 9 (System packages): packages added: jq",
        f"dev steps 10-17: {layer}",
        f"dev step 19 (Smoke): {layer}",
    ]
    assert why.lines("dev", (Reason(number=None, title="", reason="first build"),)) == [
        "dev: first build"
    ]


def buildkit_view(records: ImageInputs, first_run: int | None) -> list[Reported]:
    """What BuildKit shows of ``records``' build: only the instructions that are steps of their
    own (not ENV, USER, CMD...), and no FROM of an earlier stage; cached before ``first_run``."""
    return [
        Reported(instruction=f"{s.keyword} …", cached=first_run is None or i + 1 < first_run)
        for i, s in enumerate(records.steps)
        if s.keyword in why.BUILDKIT_STEPS and not (s.keyword == "FROM" and i > 0)
    ]


def test_buildkit_steps_line_up_with_the_records_and_give_the_classic_reasons(
    tmp_path: Path,
) -> None:
    old = inputs(project(tmp_path))
    new = inputs(project(tmp_path, requirements="six==1.17.0\nidna==3.10\n"))
    install = number_of(new, "COPY", "Install requirements.txt")
    lined = why.buildkit_steps(new, buildkit_view(new, install))
    assert lined is not None and len(lined) == len(new.steps)
    assert [_keyword(s.instruction) for s in lined] == [s.keyword for s in new.steps]
    classic = reasons(old, new, stream(new, install), had_image=True)
    assert reasons(old, new, lined, had_image=True) == classic
    assert classic[0].number == install and "requirements.txt changed" in classic[0].reason


def test_buildkit_steps_that_do_not_line_up_give_no_reasons(tmp_path: Path) -> None:
    records = inputs(project(tmp_path))
    view = buildkit_view(records, None)
    assert why.buildkit_steps(records, view[:-1]) is None  # a step missing
    assert why.buildkit_steps(records, [*view, Reported("RUN …", False)]) is None  # one too many
    run = next(i for i, s in enumerate(view) if s.instruction.startswith("RUN"))
    copy = next(i for i, s in enumerate(view) if i > run and s.instruction.startswith("COPY"))
    swapped = list(view)
    swapped[run], swapped[copy] = view[copy], view[run]
    assert why.buildkit_steps(records, swapped) is None


def _keyword(instruction: str) -> str:
    return instruction.split(" ", 1)[0]


def test_a_buildkit_build_says_why_under_the_shared_stage_and_each_image(tmp_path: Path) -> None:
    old = {t: inputs(project(tmp_path), t) for t in ("dev", SHARED_STAGE)}
    root = project(tmp_path, requirements="six==1.17.0\nidna==3.10\n")
    new = {t: inputs(root, t) for t in ("dev", SHARED_STAGE)}
    first = number_of(new["dev"], "COPY", "Install requirements.txt")
    below = len(new[SHARED_STAGE].steps)
    kit = {t: TargetResult(target=t, ref="") for t in ("dev", SHARED_STAGE)}
    for n, step in enumerate(buildkit_view(new["dev"], first), start=1):
        owner = (
            kit[SHARED_STAGE] if n <= len(buildkit_view(new[SHARED_STAGE], None)) else kit["dev"]
        )
        owner.steps.append(
            StepRecord(
                target=owner.target,
                stage=owner.target,
                number=n,
                total=0,
                instruction=step.instruction,
                cached=step.cached,
                ran=not step.cached,
            )
        )
    with _saying_why(kit, new, {"dev": (True, old["dev"])}):
        pass
    assert kit[SHARED_STAGE].reasons == ()  # nothing below the install changed
    assert kit["dev"].reasons[0].number == first > below
    assert "requirements.txt changed" in kit["dev"].reasons[0].reason
