"""Where steps come from: the plan compiled into the container and host step lists."""
