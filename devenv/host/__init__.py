"""The host's parts: apt, venv generations, a local cluster, running commands (execute), the
release, the report, and `devenv doctor`. devenv.flows.host_install runs them in order."""
