"""What devenv knows before any project: the grammars plan values must match (validate) and
the Debian/Ubuntu releases it supports with their PostgreSQL and Python packages (distro).
Pure data and checks, importing nothing of devenv but errors."""
