"""The labels devenv puts on what it makes (images, containers, networks, volumes): one
namespace, each label defined once. Here in render/, which writes them into compose.yaml, so
the runners above it (container, verify, lock) read the same names."""

LABEL_PREFIX = "dev.devenv."
LABEL_PROJECT = f"{LABEL_PREFIX}project"  # the plan's environment name
LABEL_TARGET = f"{LABEL_PREFIX}target"  # "dev" or "db"
LABEL_PLAN = f"{LABEL_PREFIX}plan"  # the image's recipe fingerprint (steps.recipe)
LABEL_PURPOSE = f"{LABEL_PREFIX}purpose"  # a throw-away container's job
LABEL_CONTENT = f"{LABEL_PREFIX}content"  # the image's content tag (container.tags)
LABEL_STEPS = f"{LABEL_PREFIX}steps"  # what each build step read (container.why), as JSON
LABEL_BOOTSTRAPPED = f"{LABEL_PREFIX}bootstrapped"  # "true" on a base devenv bootstrapped
LABEL_DISTRO = f"{LABEL_PREFIX}bootstrap.distro"
LABEL_SUITE = f"{LABEL_PREFIX}bootstrap.suite"
LABEL_VARIANT = f"{LABEL_PREFIX}bootstrap.variant"
LABEL_MIRROR = f"{LABEL_PREFIX}bootstrap.mirror"
LABEL_LAYOUT = f"{LABEL_PREFIX}bootstrap.layout"  # what a bootstrapped base holds
