#!/bin/sh
# Starts the `sweep` command. In a GPU image (SETUP_FLAGS=--gpu), puts the CUDA libraries
# that came as Python wheels on the library path first.
set -eu

for listing in "$SWEEP_CACHE_DIR"/tensorflow-*/cuda-library-path; do
  if [ -f "$listing" ]; then
    LD_LIBRARY_PATH="$(cat "$listing")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
  fi
done

exec node /app/bin/sweep.js "$@"
