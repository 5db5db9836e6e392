"""Who runs the host steps: `devenv host-install` (apt, venv generations, a local cluster) and
`devenv doctor`."""
