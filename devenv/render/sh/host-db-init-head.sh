#!/usr/bin/env bash
# Runs the plan's [postgres] init folders on a new host database, with the same functions and
# in the same order as the db image's entrypoint.
set -Eeo pipefail
