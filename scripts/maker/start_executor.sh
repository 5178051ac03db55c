#!/usr/bin/env sh
# Seed 003's start_executor.sh: `scripts/maker/start_executor.sh --account B --port 8081` (docs/maker.md).
exec ${MRASTER:-mraster} maker executor "$@"
