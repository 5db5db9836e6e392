"""Import heavy libraries in the background while the command waits on something else.

docker-py (with requests and urllib3) takes about 0.6 s to import here, testcontainers and
psycopg more. A command that first waits on a subprocess or the network (the requirements
review asks the index through uv) imports them meanwhile, so the wait hides the import.
Importing is safe across threads: the real `import` later blocks on the module's lock until
the background import is done, and an import that fails here is left for that real import to
report.
"""

from __future__ import annotations

import importlib
import threading


def preload(*modules: str) -> None:
    def run() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: S112 - the real import reports it, with context
                continue

    threading.Thread(target=run, name="devenv-preload", daemon=True).start()
