"""What the user wrote: devenv.toml and devenv.local.toml as typed, validated, frozen data, and the
knowledge that validates it (distro table, value grammars, init folders, env files)."""
