"""Where steps come from: the plan compiled into the container and host step lists, and `devenv
plan`'s view of them."""
