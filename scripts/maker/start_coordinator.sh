#!/usr/bin/env sh
# Seed 003's start_coordinator.sh: `scripts/maker/start_coordinator.sh --strategy cycle` (docs/maker.md).
exec ${MRASTER:-mraster} maker coordinator "$@"
