"""The project's generated and local files: `devenv generate` renders every file and checks or
writes it (generate), the per-user local files (local) and the host's CA certificates copied
into docker/certs (certs). Writes through devenv.fs."""
