"""Writing generated and local files: atomically, only where devenv may write, never a
half-written file."""
