FROM ubuntu:24.04 AS base

# prerequisites: The host's extra CA certificates, trusted by each image's apt step
COPY docker/certs/ /usr/local/share/ca-certificates/devenv/

ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt

FROM base AS db

# system packages: PostgreSQL 16 server with pgvector
# DL3008: apt versions are pinned by devenv.lock when the project has one (`devenv lock`)
# hadolint ignore=DL3008
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    apt-get -o Dir::Cache::Archives=/var/cache/apt/kept/ -o DPkg::Lock::Timeout=120 update \
 && DEBIAN_FRONTEND=noninteractive apt-get -o Dir::Cache::Archives=/var/cache/apt/kept/ -o DPkg::Lock::Timeout=120 install -y --no-install-recommends postgresql-common \
 && sed -ri 's/^#?\s*(create_main_cluster)\s*=.*$/\1 = false/' /etc/postgresql-common/createcluster.conf \
 && grep -qx 'create_main_cluster = false' /etc/postgresql-common/createcluster.conf \
 && DEBIAN_FRONTEND=noninteractive apt-get -o Dir::Cache::Archives=/var/cache/apt/kept/ -o DPkg::Lock::Timeout=120 install -y --no-install-recommends ca-certificates postgresql-common postgresql-16 postgresql-client-16 postgresql-16-pgvector xz-utils zstd libnss-wrapper locales \
 && update-ca-certificates \
 && localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8 \
 && find /usr/share/doc -type f '!' -name copyright -delete \
 && find /usr/share/man /usr/share/info -mindepth 1 -delete \
 && find /usr/share/locale -type f -name '*.mo' -delete

# system packages: Database folders and the entrypoint, as in the official postgres image
# PGDATA and the socket folder are open to any --user; the entrypoint, started as root, hands them to postgres
COPY docker/db-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN install -d -o postgres -g postgres -m 1777 /var/lib/postgresql/data \
 && install -d -o postgres -g postgres -m 3777 /var/run/postgresql \
 && install -d -o root -g root -m 0755 /docker-entrypoint-initdb.d \
 && chmod 0755 /usr/local/bin/docker-entrypoint.sh \
 && ln -s usr/local/bin/docker-entrypoint.sh /docker-entrypoint.sh \
 && sed -ri 's/^#?(listen_addresses)\s*=\s*\S+.*/\1 = '"'"'*'"'"'/' /usr/share/postgresql/16/postgresql.conf.sample \
 && grep -qF 'listen_addresses = '"'"'*'"'"'' /usr/share/postgresql/16/postgresql.conf.sample

ENV PATH=/usr/lib/postgresql/16/bin:$PATH PGDATA=/var/lib/postgresql/data LANG=en_US.utf8 PG_MAJOR=16
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]

FROM base AS dev

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 VIRTUAL_ENV=/opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /workspace
CMD ["sleep", "infinity"]

# system packages: System packages
# DL3008: apt versions are pinned by devenv.lock when the project has one (`devenv lock`)
# hadolint ignore=DL3008
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    apt-get -o Dir::Cache::Archives=/var/cache/apt/kept/ -o DPkg::Lock::Timeout=120 update \
 && DEBIAN_FRONTEND=noninteractive apt-get -o Dir::Cache::Archives=/var/cache/apt/kept/ -o DPkg::Lock::Timeout=120 install -y --no-install-recommends ca-certificates python3 python3-venv build-essential libpq-dev postgresql-client-16 \
 && update-ca-certificates

# system packages: Non-root user 'dev' owning /opt/venv
COPY docker/create-user.sh /usr/local/lib/devenv/create-user.sh
RUN sh /usr/local/lib/devenv/create-user.sh dev 1000 /opt/venv /home/dev/.local/share/devenv/venv

USER dev
# python environment: Virtual environment at /opt/venv
# its files live in /home/dev/.local/share/devenv/venv, so VS Code's updateRemoteUserUID re-owns them
# python environment: Install uv with the venv's pip
# DL3013: the installer itself is upgraded on purpose; requirements are pinned
# hadolint ignore=DL3013
RUN --mount=type=cache,target=/var/cache/devenv/pip,uid=1000,gid=1000 \
    python3 -m venv /home/dev/.local/share/devenv/venv \
 && /opt/venv/bin/python -m pip install --cache-dir /var/cache/devenv/pip --upgrade uv

# python environment: Install requirements.txt with uv
# verification: pip check: installed packages have compatible dependencies
# verification: Every library the venv's extension modules link is on the system
# verification: Import fastapi, sqlalchemy, psycopg, pgvector.psycopg, pgvector.sqlalchemy
# smoke (derived from requirements): the framework, ORM, driver and pgvector modules they name; [python] smoke sets the list
COPY --chown=dev:dev requirements.txt /opt/devenv/requirements/requirements.txt
RUN --mount=type=cache,target=/var/cache/devenv/uv,uid=1000,gid=1000 \
    UV_CACHE_DIR=/var/cache/devenv/uv UV_LINK_MODE=copy /opt/venv/bin/uv pip install --python /opt/venv/bin/python -r /opt/devenv/requirements/requirements.txt \
 && /opt/venv/bin/python -m pip check
RUN ["/opt/venv/bin/python", "-c", "\nimport importlib.machinery, os, subprocess, sys, sysconfig\nrelease, ignored = sys.argv[1], tuple(sys.argv[2].split(\",\"))\nknown = dict(arg.split(\"=\", 1) for arg in sys.argv[3:])\nsuffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)\nroots = sorted({sysconfig.get_paths()[key] for key in (\"purelib\", \"platlib\")})\nmodules, present = [], set()\nfor root in roots:\n    for folder, dirs, names in os.walk(root):\n        dirs.sort()\n        modules += [os.path.join(folder, n) for n in sorted(names) if n.endswith(suffixes)]\n        present.update(names)\nmissing = {}\nfor start in range(0, len(modules), 100):\n    batch = modules[start:start + 100]\n    out = subprocess.run([\"ldd\", *batch], capture_output=True, text=True,\n                         env={**os.environ, \"LC_ALL\": \"C\"}).stdout\n    current = batch[0]\n    for line in out.splitlines():\n        if not line[:1].isspace() and line.endswith(\":\"):\n            current = line[:-1]\n        elif line.rstrip().endswith(\"=> not found\"):\n            soname = line.split(\"=>\")[0].strip()\n            # A library the venv carries itself (a wheel's .libs) is the wheel's to find.\n            if not soname.startswith(ignored) and soname not in present:\n                missing.setdefault(soname, []).append(os.path.relpath(current, roots[0]))\nfor soname, needers in sorted(missing.items()):\n    more = \" and %d more\" % (len(needers) - 1) if len(needers) > 1 else \"\"\n    package = known.get(soname)\n    fix = (\"%s provides it on %s: add it to [system] packages\" % (package, release) if package\n           else \"find its package with `apt-file search %s` and add it to [system] packages\"\n           % soname)\n    print(\"%s is not on this system, and %s%s links it: %s\" % (soname, needers[0], more, fix))\nprint(\"%d extension modules checked, %d libraries missing\" % (len(modules), len(missing)))\nsys.exit(1 if missing else 0)\n", "Ubuntu 24.04 (noble)", "libcuda.so,libnvidia-,libnvcuvid.so,libnvidia-ml.so", "libEGL.so.1=libegl1", "libGL.so.1=libgl1", "libICE.so.6=libice6", "libSM.so.6=libsm6", "libX11.so.6=libx11-6", "libXext.so.6=libxext6", "libXrender.so.1=libxrender1", "libasound.so.2=libasound2t64", "libcairo.so.2=libcairo2", "libcrypto.so.3=libssl3t64", "libcups.so.2=libcups2t64", "libcurl.so.4=libcurl4t64", "libfontconfig.so.1=libfontconfig1", "libfreetype.so.6=libfreetype6", "libgeos_c.so.1=libgeos-c1t64", "libglib-2.0.so.0=libglib2.0-0t64", "libgobject-2.0.so.0=libglib2.0-0t64", "libgomp.so.1=libgomp1", "libgthread-2.0.so.0=libglib2.0-0t64", "libmagic.so.1=libmagic1t64", "libmariadb.so.3=libmariadb3", "libnss3.so=libnss3", "libodbc.so.2=libodbc2", "libpango-1.0.so.0=libpango-1.0-0", "libpangoft2-1.0.so.0=libpangoft2-1.0-0", "libportaudio.so.2=libportaudio2", "libpq.so.5=libpq5", "libsndfile.so.1=libsndfile1", "libsqlite3.so.0=libsqlite3-0", "libssl.so.3=libssl3t64", "libvips.so.42=libvips42t64", "libxcb.so.1=libxcb1", "libxml2.so.2=libxml2", "libxslt.so.1=libxslt1.1", "libzbar.so.0=libzbar0t64"]
RUN ["/opt/venv/bin/python", "-c", "import importlib, sys\nfailed = 0\nfor arg in sys.argv[1:]:\n    module, _, source = arg.partition(\"=\")\n    try:\n        importlib.import_module(module)\n    except Exception as exc:\n        failed = 1\n        why = \" \".join(f\"{type(exc).__name__}: {exc}\".split())\n        where = f\" (expected from requirement {source})\" if source else \"\"\n        print(f\"import {module} failed: {why}{where}\", file=sys.stderr, flush=True)\nsys.exit(failed)\n", "fastapi=fastapi==0.115.6 in requirements.txt", "sqlalchemy=sqlalchemy==2.0.36 in requirements.txt", "psycopg=psycopg[binary]==3.2.3 in requirements.txt", "pgvector.psycopg=pgvector==0.3.6 in requirements.txt", "pgvector.sqlalchemy=pgvector==0.3.6 in requirements.txt"]
