"""Native-build knowledge as data: what compiling a Python package from source needs, by release.

A table in the style of devenv.plan.distro: which apt packages give the headers, libraries and tools
that well-known C/C++/Rust extension packages build against, the C library each release has
(which manylinux wheels it can use), and which packages are known not to need a compiler
(for the review's offline fallback). Nothing else in devenv knows these names.
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

# Where a package's name differs on a release: codename -> {usual name: its name there}.
RENAMED: dict[str, dict[str, str]] = {
    "trixie": {"libldap2-dev": "libldap-dev"},
}

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
    """`package` as `codename`'s archive names it."""
    return RENAMED.get(codename, {}).get(package, package)


def build_needs(distribution: str, codename: str) -> tuple[str, ...]:
    """The apt packages building `distribution` from source needs on `codename`."""
    native = NATIVE.get(distribution)
    extra = native.packages if native else ()
    return tuple(dict.fromkeys(apt_name(p, codename) for p in (*COMPILER, *extra)))
