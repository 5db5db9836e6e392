"""Who runs the container steps: the Docker engine, base images (bootstrap/), image builds,
tags and the registry, compose."""
