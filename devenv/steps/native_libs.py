"""The post-install check for run-time libraries: every shared object the venv's extension
modules link must be on the system.

A wheel that links a system library (cv2 and libGL, pyodbc and libodbc) installs without it and
fails only at import, with words that name a file but no package. This check runs `ldd` on every
extension module in the venv once the requirements are in (the image build, host-install) and
names, for each library not found, the modules that need it and the release's apt package that
provides it. The review adds the well-known ones before anything runs (native.RUNTIME); this
check catches the rest.

The program is data: it runs with the venv's Python as `python -c PROGRAM SONAME=PACKAGE...`,
never through a shell, and the Dockerfile renders it in exec form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from devenv.review import native

PROGRAM = r"""
import importlib.machinery, os, subprocess, sys, sysconfig
release, ignored = sys.argv[1], tuple(sys.argv[2].split(","))
known = dict(arg.split("=", 1) for arg in sys.argv[3:])
suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
roots = sorted({sysconfig.get_paths()[key] for key in ("purelib", "platlib")})
modules, present = [], set()
for root in roots:
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        modules += [os.path.join(folder, n) for n in sorted(names) if n.endswith(suffixes)]
        present.update(names)
missing = {}
for start in range(0, len(modules), 100):
    batch = modules[start:start + 100]
    out = subprocess.run(["ldd", *batch], capture_output=True, text=True,
                         env={**os.environ, "LC_ALL": "C"}).stdout
    current = batch[0]
    for line in out.splitlines():
        if not line[:1].isspace() and line.endswith(":"):
            current = line[:-1]
        elif line.rstrip().endswith("=> not found"):
            soname = line.split("=>")[0].strip()
            # A library the venv carries itself (a wheel's .libs) is the wheel's to find.
            if not soname.startswith(ignored) and soname not in present:
                missing.setdefault(soname, []).append(os.path.relpath(current, roots[0]))
for soname, needers in sorted(missing.items()):
    more = " and %d more" % (len(needers) - 1) if len(needers) > 1 else ""
    package = known.get(soname)
    fix = ("%s provides it on %s: add it to [system] packages" % (package, release) if package
           else "find its package with `apt-file search %s` and add it to [system] packages"
           % soname)
    print("%s is not on this system, and %s%s links it: %s" % (soname, needers[0], more, fix))
print("%d extension modules checked, %d libraries missing" % (len(modules), len(missing)))
sys.exit(1 if missing else 0)
"""


# The program's words for a missing library, and what to do about them (host and image alike).
_FAILURE = re.compile(r"^\s*(\S+ is not on this system, and .* links it: .*)$")
HINT = "add the packages named to [system] packages in devenv.toml, then build again"


def failures(lines: Iterable[str]) -> list[str]:
    """The lines in which the check named a missing library."""
    return [m[1] for m in map(_FAILURE.match, lines) if m]


def argv(python: str, codename: str, release_label: str) -> tuple[str, ...]:
    """The check's argv for the venv whose interpreter is `python`, with the soname table as
    `codename` names its packages."""
    table = tuple(
        f"{soname}={native.apt_name(package, codename)}"
        for soname, package in sorted(native.SONAMES.items())
    )
    return (python, "-c", PROGRAM, release_label, ",".join(native.DRIVER_SONAMES), *table)
