#!/usr/bin/env sh
# Seed 003's query_stats.py: `scripts/maker/query_stats.sh [--hours 6] [--servers B]` (docs/maker.md).
exec ${MRASTER:-mraster} maker stats "$@"
