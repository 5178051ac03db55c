#!/usr/bin/env bash
# Install everything the test suite needs (a virtualenv with the test extras, systemd-analyze, and
# Debian's Chromium for the browser tests), run the lint and type checks (ruff, mypy), then the whole suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k settings`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
# The bar held by tools (pyproject.toml: [tool.ruff], [tool.mypy]); findings fail the run before pytest.
echo "lint: ruff check ."
.venv/bin/ruff check .
echo "types: mypy (kernel mraster/, strict)"
.venv/bin/mypy
# Debian packages the tests run: systemd-analyze checks the units `mraster deploy systemd` writes, openssl
# makes the certificates of the local HTTPS and SMTP (STARTTLS) servers (tests/ops, tests/dashboard)
missing=""
command -v systemd-analyze >/dev/null || missing="$missing systemd"
command -v openssl >/dev/null || missing="$missing openssl"
if [ -n "$missing" ]; then
  echo "installing Debian packages for the tests:$missing"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
  elif command -v sudo >/dev/null; then
    sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
  else
    echo "error: missing Debian packages:$missing" >&2
    exit 1
  fi
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  elif command -v sudo >/dev/null; then
    sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  else
    echo "error: /usr/bin/chromium is missing; install Debian's chromium package" >&2
    exit 1
  fi
fi
exec .venv/bin/python -m pytest "$@"
