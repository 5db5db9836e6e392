from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REQUIREMENTS = "fastapi==0.115.6\nsqlalchemy==2.0.36\npsycopg[binary]==3.2.3\npgvector==0.3.6\n"

MakeProject = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """A project folder with a devenv.toml (dedented) and a requirements.txt."""

    def make(toml: str = "", requirements: str | None = REQUIREMENTS, name: str = "proj") -> Path:
        root = tmp_path / name
        root.mkdir(exist_ok=True)
        (root / "devenv.toml").write_text(textwrap.dedent(toml))
        if requirements is not None:
            (root / "requirements.txt").write_text(requirements)
        return root

    return make
