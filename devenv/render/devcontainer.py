""".devcontainer/devcontainer.json: VS Code's "Reopen in Container" on the compose services."""

from __future__ import annotations

import json
from typing import Any

from devenv.plan.model import Plan
from devenv.steps.model import Mode, python_path, venv_path


def devcontainer_data(plan: Plan) -> dict[str, Any]:
    python = python_path(venv_path(plan, Mode.CONTAINER))
    return {
        "name": plan.environment.name,
        # The second file holds this machine's devenv.local.toml (initializeCommand makes an
        # empty one when there is none), so the committed files stay the team's.
        "dockerComposeFile": ["../compose.yaml", "../.devenv/compose.local.yaml"],
        "service": "app",
        "runServices": ["app", "db"],
        "workspaceFolder": plan.devcontainer.workspace,
        "shutdownAction": "stopCompose",
        # Creates the git-ignored database password file before compose reads it.
        "initializeCommand": ["sh", "docker/init-env.sh"],
        "remoteUser": plan.environment.user,
        # With engine_access the container starts as root (see docker/engine-access.sh).
        "containerUser": "root" if plan.devcontainer.engine_access else plan.environment.user,
        # Files made inside belong to the host user (the image's user starts at UID 1000).
        "updateRemoteUserUID": True,
        "forwardPorts": list(plan.devcontainer.forward_ports),
        # [tasks] setup on every start, as `devenv up` runs them (see devenv.run.tasks).
        **({"postStartCommand": ["sh", "docker/setup-tasks.sh"]} if plan.tasks.setup else {}),
        "customizations": {
            "vscode": {
                "extensions": list(plan.devcontainer.extensions),
                "settings": {
                    "python.defaultInterpreterPath": python,
                    **dict(plan.devcontainer.settings),
                },
            }
        },
    }


def render_devcontainer(plan: Plan) -> str:
    return json.dumps(devcontainer_data(plan), indent=2) + "\n"
