"""Renderers: pure functions from the plan and its steps to file contents. None touches disk."""
