"""The project's own files, read as plan inputs: its requirements files (requirements), the
smoke imports they imply (smoke), a pyproject project (pyproject) and its lock exported by uv
(project_lock), and where uv is (uv). Below the plan model, which is built from them."""
