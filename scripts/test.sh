#!/bin/sh
# Install everything the tests need (Debian packages and Python packages), then run
# the linters, the type checker and the whole test suite. CI runs exactly this.
set -eu
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test
# Tools the tests use as oracles must be present: fail, never skip, when missing.
for tool in git gpg ssh-keygen; do
    command -v "$tool" >/dev/null || { echo "test.sh: $tool is missing" >&2; exit 1; }
done
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
