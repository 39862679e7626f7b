#!/bin/sh
echo "bazel coverage is unavailable offline; use gcc --coverage" >&2
exit 1
