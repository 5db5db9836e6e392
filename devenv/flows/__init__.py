"""Orchestrations that span the runners, so they sit above all of them: `devenv up` and `down`
(up: generate, base, build, compose, the setup tasks, verify), `devenv parity` (host and
container apt sets), `devenv host-install` (the host steps and the setup tasks on the host) and
what `devenv plan` prints (the recipe, host commands as host-install would run them)."""
