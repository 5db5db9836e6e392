"""The requirements review: which files an install reads, what uv resolves for the target
interpreter, which distributions build from source and what their builds need."""
