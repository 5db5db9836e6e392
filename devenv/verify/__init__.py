"""Proof that an environment works: `devenv verify` (db and dev checks, leftovers, the
report)."""
