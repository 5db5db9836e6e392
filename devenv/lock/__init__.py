"""devenv.lock: its format, and `devenv lock` resolving what it pins."""
