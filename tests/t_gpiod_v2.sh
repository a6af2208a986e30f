#!/bin/sh
# t_gpiod_v2.sh BUILD - the libgpiod 2.x build and its GPIO tests (tests/gpiod-v2.sh
# says how), run by tests/run.sh as part of `make check`.
exec sh "$(dirname "$0")/gpiod-v2.sh" "${1:-build}"
