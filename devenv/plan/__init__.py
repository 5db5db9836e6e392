"""What the user wrote: devenv.toml and devenv.local.toml as typed, validated, frozen data (one
declaration per key in schema, read by read, checked by checks), the init template, the env
files, the database init files, and devenv.lock's format and staleness (lockfile,
lock_status)."""
