"""Native knowledge as data: what compiling a Python package from source needs, and what an
installed one needs at run time, by release.

A table in the style of devenv.rules.distro: which apt packages give the headers, libraries and
tools that well-known C/C++/Rust extension packages build against, the system libraries well-known
packages load at run time (and which package provides a shared object by its soname), how each
release names those packages (t64 renames), the C library each release has (which manylinux
wheels it can use), and which packages are known not to need a compiler (for the review's
offline fallback). Nothing else in devenv knows these names.
"""

from __future__ import annotations

from dataclasses import dataclass

# Every source build needs a compiler and the release's Python headers (Python.h).
COMPILER = ("build-essential", "python3-dev")
RUST = ("cargo", "rustc")

# codename -> glibc version: the highest manylinux tag a release's Python accepts.
GLIBC = {"jammy": "2.35", "noble": "2.39", "bookworm": "2.36", "trixie": "2.41"}


@dataclass(frozen=True, kw_only=True)
class Native:
    packages: tuple[str, ...]  # apt packages beyond COMPILER, by their name on most releases
    why: str  # what the build compiles against


# Distribution name (PEP 503 normalised) -> what building it from source needs.
NATIVE: dict[str, Native] = {
    "psycopg2": Native(packages=("libpq-dev",), why="pg_config and libpq's headers"),
    "psycopg-c": Native(packages=("libpq-dev",), why="pg_config and libpq's headers"),
    "lxml": Native(packages=("libxml2-dev", "libxslt1-dev"), why="libxml2 and libxslt"),
    "cffi": Native(packages=("libffi-dev", "pkg-config"), why="libffi (ffi.h)"),
    "cryptography": Native(
        packages=("libssl-dev", "libffi-dev", "pkg-config", *RUST), why="OpenSSL, and Rust"
    ),
    "pillow": Native(packages=("zlib1g-dev", "libjpeg-dev"), why="zlib and libjpeg"),
    "mysqlclient": Native(
        packages=("default-libmysqlclient-dev", "pkg-config"), why="the MySQL client library"
    ),
    "mariadb": Native(packages=("libmariadb-dev",), why="MariaDB Connector/C"),
    "pycurl": Native(packages=("libcurl4-openssl-dev", "libssl-dev"), why="libcurl"),
    "python-ldap": Native(packages=("libldap2-dev", "libsasl2-dev"), why="OpenLDAP and SASL"),
    "pyodbc": Native(packages=("unixodbc-dev",), why="unixODBC"),
    "pymssql": Native(packages=("freetds-dev",), why="FreeTDS"),
    "xmlsec": Native(
        packages=("libxmlsec1-dev", "libxml2-dev", "pkg-config"), why="xmlsec1 and libxml2"
    ),
    "h5py": Native(packages=("libhdf5-dev", "pkg-config"), why="HDF5"),
    "python-snappy": Native(packages=("libsnappy-dev",), why="snappy"),
    "confluent-kafka": Native(packages=("librdkafka-dev",), why="librdkafka"),
    "gssapi": Native(packages=("libkrb5-dev",), why="Kerberos"),
    "scipy": Native(
        packages=("gfortran", "libopenblas-dev", "pkg-config"), why="Fortran and BLAS/LAPACK"
    ),
    # Rust extensions (built with maturin/setuptools-rust).
    "bcrypt": Native(packages=RUST, why="Rust"),
    "orjson": Native(packages=RUST, why="Rust"),
    "pydantic-core": Native(packages=RUST, why="Rust"),
    "rpds-py": Native(packages=RUST, why="Rust"),
    "tiktoken": Native(packages=RUST, why="Rust"),
    "tokenizers": Native(packages=RUST, why="Rust"),
    "jiter": Native(packages=RUST, why="Rust"),
    "watchfiles": Native(packages=RUST, why="Rust"),
}

# Where a package's name differs on a release: codename -> {usual name: its name there}. The
# 64-bit time_t transition renamed libraries on Ubuntu 24.04 and Debian 13; the old names are
# only virtual there (apt installs a provider, dpkg never lists the name). Each pair was read
# from the release's archive (tests/integration/test_package_names.py checks them all).
T64 = {
    "libasound2": "libasound2t64",
    "libcups2": "libcups2t64",
    "libcurl4": "libcurl4t64",
    "libgeos-c1v5": "libgeos-c1t64",
    "libglib2.0-0": "libglib2.0-0t64",
    "libmagic1": "libmagic1t64",
    "libpng16-16": "libpng16-16t64",
    "libssl3": "libssl3t64",
    "libvips42": "libvips42t64",
    "libxmlsec1-openssl": "libxmlsec1t64-openssl",
    "libzbar0": "libzbar0t64",
}
_BEFORE_T64 = {new: old for old, new in T64.items()}
RENAMED: dict[str, dict[str, str]] = {
    "jammy": {**_BEFORE_T64},
    "bookworm": {**_BEFORE_T64},
    "noble": {
        **T64,
        "libhdf5-103-1": "libhdf5-103-1t64",
        "libgl1-mesa-glx": "libgl1",
        "libgdk-pixbuf2.0-0": "libgdk-pixbuf-2.0-0",
        "libldap-2.5-0": "libldap2",
    },
    "trixie": {
        **T64,
        "libldap2-dev": "libldap-dev",
        "libgl1-mesa-glx": "libgl1",
        "libgdk-pixbuf2.0-0": "libgdk-pixbuf-2.0-0",
        "libldap-2.5-0": "libldap2",
    },
}


@dataclass(frozen=True, kw_only=True)
class Runtime:
    packages: tuple[str, ...]  # apt packages (usual names) the installed distribution needs
    why: str  # what it loads, for `devenv plan`


# Distribution (PEP 503 normalised) -> the system libraries or programs it needs at run time
# that its wheels do not carry: loaded by name (ctypes, cffi's dlopen) or linked and left to
# the system. A wheel that bundles its libraries (auditwheel's .libs) needs nothing here.
# ldd of opencv-python 4.10's cv2 on a bare Ubuntu 24.04: libGL, GLib, libSM/libICE, libX11,
# libXext and libxcb not found; libgl1 brings libX11 and libxcb, libsm6 brings libICE.
_CV2 = Runtime(
    packages=("libgl1", "libglib2.0-0", "libsm6", "libxext6"),
    why="cv2 links libGL, GLib, libSM and libXext",
)
_MAGIC = Runtime(packages=("libmagic1",), why="loads libmagic by name at import")
RUNTIME: dict[str, Runtime] = {
    "python-magic": _MAGIC,
    "file-magic": _MAGIC,
    "opencv-python": _CV2,
    "opencv-contrib-python": _CV2,
    "pyzbar": Runtime(packages=("libzbar0",), why="loads libzbar by name at import"),
    "cairocffi": Runtime(packages=("libcairo2",), why="loads libcairo by name at import"),
    "weasyprint": Runtime(
        packages=("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0"),
        why="loads Pango and HarfBuzz by name at import",
    ),
    "pyvips": Runtime(packages=("libvips42",), why="loads libvips by name at import"),
    "sounddevice": Runtime(packages=("libportaudio2",), why="loads PortAudio by name at import"),
    "pyodbc": Runtime(packages=("libodbc2",), why="its wheels link unixODBC's libodbc"),
    "pdf2image": Runtime(packages=("poppler-utils",), why="runs poppler's pdftoppm and pdfinfo"),
    "pytesseract": Runtime(packages=("tesseract-ocr",), why="runs the tesseract program"),
}

# A shared object an extension module links that is not on the system -> the apt package (usual
# name) that provides it: the post-install check's advice (steps.native_libs).
SONAMES: dict[str, str] = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libICE.so.6": "libice6",
    "libSM.so.6": "libsm6",
    "libX11.so.6": "libx11-6",
    "libXext.so.6": "libxext6",
    "libXrender.so.1": "libxrender1",
    "libasound.so.2": "libasound2",
    "libcairo.so.2": "libcairo2",
    "libcrypto.so.3": "libssl3",
    "libcups.so.2": "libcups2",
    "libcurl.so.4": "libcurl4",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libgeos_c.so.1": "libgeos-c1v5",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libgomp.so.1": "libgomp1",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libmagic.so.1": "libmagic1",
    "libmariadb.so.3": "libmariadb3",
    "libnss3.so": "libnss3",
    "libodbc.so.2": "libodbc2",
    "libpango-1.0.so.0": "libpango-1.0-0",
    "libpangoft2-1.0.so.0": "libpangoft2-1.0-0",
    "libportaudio.so.2": "libportaudio2",
    "libpq.so.5": "libpq5",
    "libsndfile.so.1": "libsndfile1",
    "libsqlite3.so.0": "libsqlite3-0",
    "libssl.so.3": "libssl3",
    "libvips.so.42": "libvips42",
    "libxcb.so.1": "libxcb1",
    "libxml2.so.2": "libxml2",
    "libxslt.so.1": "libxslt1.1",
    "libzbar.so.0": "libzbar0",
}
# Libraries that come with a machine's GPU driver, never from the archive: a wheel built for
# GPUs links them and runs without them on a CPU (its CUDA paths stay unused).
DRIVER_SONAMES = ("libcuda.so", "libnvidia-", "libnvcuvid.so", "libnvidia-ml.so")


# Installed without a compiler whatever the index offers: pure Python, or wheel-only (no sdist
# exists, so nothing can build). The offline fallback trusts this list and nothing else.
PURE_PYTHON = frozenset(
    {
        "alembic",
        "annotated-types",
        "anyio",
        "certifi",
        "click",
        "django",
        "fastapi",
        "flask",
        "h11",
        "httpcore",
        "httpx",
        "idna",
        "iniconfig",
        "jinja2",
        "markupsafe",  # its speedups are optional: without a compiler it installs as Python
        "packaging",
        "pgvector",
        "pip",
        "pluggy",
        "psycopg",
        "psycopg-binary",
        "psycopg-pool",
        "psycopg2-binary",
        "pydantic",
        "pygments",
        "pytest",
        "requests",
        "setuptools",
        "sniffio",
        "sqlalchemy",  # the same: its C extensions are optional
        "sqlmodel",
        "starlette",
        "typing-extensions",
        "typing-inspection",
        "urllib3",
        "uv",
        "uvicorn",
        "wheel",
    }
)

# Diagnosing a compile that slipped through the review: a header the compiler could not find
# (by path, or its folder) -> the apt package that provides it ...
MISSING_HEADERS: dict[str, str] = {
    "Python.h": "python3-dev",
    "libpq-fe.h": "libpq-dev",
    "pg_config.h": "libpq-dev",
    "ffi.h": "libffi-dev",
    "openssl/": "libssl-dev",
    "libxml/": "libxml2-dev",
    "libxslt/": "libxslt1-dev",
    "zlib.h": "zlib1g-dev",
    "jpeglib.h": "libjpeg-dev",
    "mysql.h": "default-libmysqlclient-dev",
    "mysql/": "default-libmysqlclient-dev",
    "curl/": "libcurl4-openssl-dev",
    "lber.h": "libldap2-dev",
    "ldap.h": "libldap2-dev",
    "sasl/": "libsasl2-dev",
    "sql.h": "unixodbc-dev",
    "sqlfront.h": "freetds-dev",
    "krb5.h": "libkrb5-dev",
    "gssapi/": "libkrb5-dev",
    "hdf5.h": "libhdf5-dev",
    "librdkafka/": "librdkafka-dev",
    "snappy-c.h": "libsnappy-dev",
    "xmlsec/": "libxmlsec1-dev",
}
# ... and a missing tool, in the words of the build that needed it: (regex, tool, apt package).
MISSING_TOOLS: tuple[tuple[str, str, str], ...] = (
    (r"pg_config executable not found|pg_config: (?:command )?not found", "pg_config", "libpq-dev"),
    (
        r"mysql_config not found|Can not find valid pkg-config name",
        "mysql_config",
        "default-libmysqlclient-dev",
    ),
    (
        r"cargo, the Rust package manager, is not installed|can't find Rust compiler",
        "a Rust compiler",
        "cargo",
    ),
    (
        r"command '[\w./-]*(?:gcc|cc|g\+\+)' failed: No such file|unable to execute '[\w./-]*gcc'",
        "a C compiler",
        "build-essential",
    ),
    (r"pkg-config: not found|No such file or directory: 'pkg-config'", "pkg-config", "pkg-config"),
)


def apt_name(package: str, codename: str) -> str:
    """`package` (`name` or `name=version`) as `codename`'s archive names it."""
    name, eq, version = package.partition("=")
    return RENAMED.get(codename, {}).get(name, name) + eq + version


def runtime_needs(distribution: str, codename: str) -> tuple[str, ...]:
    """The apt packages `distribution` needs at run time on `codename`, or ()."""
    runtime = RUNTIME.get(distribution)
    return tuple(apt_name(p, codename) for p in runtime.packages) if runtime else ()


def build_needs(distribution: str, codename: str) -> tuple[str, ...]:
    """The apt packages building `distribution` from source needs on `codename`."""
    native = NATIVE.get(distribution)
    extra = native.packages if native else ()
    return tuple(dict.fromkeys(apt_name(p, codename) for p in (*COMPILER, *extra)))
