#!/usr/bin/env bash
# Set up a virtual environment and run the whole test suite (the README's second command).
# Installs what the browser tests need (Debian's chromium) when run as root without it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing Debian's chromium for the browser tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
. .venv/bin/activate
echo "== installing aelog and its test dependencies"
pip install -q -c constraints.txt -e ".[dev,lightning]"

if [ -f frontend/package.json ]; then
  echo "== rebuilding the front end; the shipped bundle must match its source"
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm test && npm run build)
  git diff --exit-code -- tb_plugin/aelog_tb_plugin/static \
    || { echo "the shipped bundle is stale: run 'cd frontend && npm run build' and commit"; exit 1; }
fi

echo "== ruff"
ruff check .
echo "== pytest"
pytest -q "$@"
