"""Who runs the container steps: the Docker engine, base images, image builds, compose, and
`devenv up`."""
