#!/bin/sh
# Install gitguard and run the demo: a throwaway repository with good, unsigned,
# tampered and unknown-key commits, audited. Touches none of your keys or config.
set -eu
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/guard demo "$@"
