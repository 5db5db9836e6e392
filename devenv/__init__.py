"""devenv: one plan, one step list, the same environment in a container and on the host."""

__version__ = "0.1.0"
