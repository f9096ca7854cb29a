#!/bin/sh
# Shared set-up: the Debian/Ubuntu packages gitguard and its tests use, and a
# virtual environment in .venv with gitguard installed. Idempotent.
#   scripts/bootstrap.sh         -> runtime packages, `pip install -e .`
#   scripts/bootstrap.sh --test  -> plus everything the tests need
set -eu
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

# git, ssh-keygen (openssh-client), gpg (gnupg) are run by gitguard and by the demo;
# the tests also use them as independent oracles, so they must be real, not skipped.
pkgs="git openssh-client gnupg python3-venv"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "bootstrap: installing Debian packages:$missing" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if [ "$want_test" -eq 1 ]; then
    .venv/bin/python -m pip install -q -e '.[test]'
else
    .venv/bin/python -m pip install -q -e .
fi
