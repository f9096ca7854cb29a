#!/bin/sh
# Shared set-up: the Debian/Ubuntu packages gitguard and its tests use, and a
# virtual environment in .venv with gitguard installed. Idempotent.
#   scripts/bootstrap.sh         -> runtime packages, `pip install -e .`
#   scripts/bootstrap.sh --test  -> plus everything the tests need
set -eu
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

# Debian packages: scripts/apt-packages.txt (git, ssh-keygen, gpg: run by gitguard
# and the demo), plus scripts/apt-test-packages.txt for the tests, whose oracles and
# servers must be real, never skipped.
lists="scripts/apt-packages.txt"
[ "$want_test" -eq 1 ] && lists="$lists scripts/apt-test-packages.txt"
pkgs=$(sed -e 's/#.*//' $lists | tr -s ' \n' ' ')
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "bootstrap: installing Debian packages:$missing" >&2
    $sudo apt-get update -qq
    # Packaged services (web servers, registries) must not start on install: the
    # tests start their own instances on 127.0.0.1.
    policy_rc=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
        $sudo chmod +x /usr/sbin/policy-rc.d
        policy_rc=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
    if [ -n "$policy_rc" ]; then $sudo rm -f /usr/sbin/policy-rc.d; fi
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if [ "$want_test" -eq 1 ]; then
    .venv/bin/python -m pip install -q -e '.[test]'
    # Tools that are not Debian 12 packages (e.g. cosign/skopeo from Debian 13),
    # provisioned into a private directory, never system-wide.
    for s in scripts/provision-*.sh; do
        if [ -e "$s" ]; then sh "$s"; fi
    done
else
    .venv/bin/python -m pip install -q -e .
fi
