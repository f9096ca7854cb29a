#!/bin/sh
# Provision the independent image-signature verifiers the interop tests use as
# oracles: cosign 2.5.0 and skopeo 1.18.0 from Debian 13 "trixie" (Debian 12's
# skopeo has sigstore support patched out; Debian 12 has no cosign). See
# ../shared/IMAGE-SIGNING.md, "Independent verifiers on this kind of machine".
#
# Nothing is installed system-wide: the packages are fetched with `apt-get
# download` under a throwaway apt configuration (its own sources list naming
# trixie on the Debian mirror this machine already uses, its own state and cache
# directories) and unpacked with `dpkg-deb -x` into .tools/ in the project:
#   .tools/cosign/   cosign's package tree (runs as is: needs libc >= 2.34)
#   .tools/skopeo/   skopeo plus trixie's libc and the libraries it links
#   .tools/bin/cosign, .tools/bin/skopeo   wrapper scripts (skopeo is started
#                    through trixie's own ld.so with --library-path)
# Idempotent: does nothing when both wrappers run and .tools/VERSIONS records the
# pinned upstream versions. The tests (tests/registry.py) use .tools/bin/*.
# Environment: DEBIAN_MIRROR (default: the Debian archive URI from this machine's
# apt sources). Takes 10-15 s here (trixie's main Packages index and the .debs).
set -eu
cd "$(dirname "$0")/.."

COSIGN_VERSION=2.5.0
SKOPEO_VERSION=1.18.0
SUITE=trixie
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# skopeo's own libraries plus trixie's C library; the loader comes with libc6.
SKOPEO_PKGS="skopeo libc6 libgpgme11t64 libassuan9 libgpg-error0 libsqlite3-0"

tools="$PWD/.tools"

say() { echo "provision-image-tools: $*" >&2; }
die() { say "$*"; exit 1; }

installed_ok() {
    [ -x "$tools/bin/cosign" ] && [ -x "$tools/bin/skopeo" ] || return 1
    # Debian builds cosign without its version stamp ("GitVersion: devel"), so the
    # package versions are recorded in .tools/VERSIONS at unpack time.
    grep -q "^cosign $COSIGN_VERSION[-+]" "$tools/VERSIONS" 2>/dev/null || return 1
    grep -q "^skopeo $SKOPEO_VERSION[-+]" "$tools/VERSIONS" 2>/dev/null || return 1
    "$tools/bin/cosign" version >/dev/null 2>&1 || return 1
    "$tools/bin/skopeo" --version 2>&1 | grep -q "skopeo version $SKOPEO_VERSION" || return 1
}

if installed_ok; then
    exit 0
fi

command -v apt-get >/dev/null || die "apt-get is required (Debian/Ubuntu host)"
command -v dpkg-deb >/dev/null || die "dpkg-deb is required"
[ -r "$KEYRING" ] || die "$KEYRING is missing (package debian-archive-keyring)"

# The Debian archive this machine's apt already uses: the first "deb" index
# whose Release file says Origin Debian and that is not the security archive.
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
    mirror=$(apt-get indextargets --format '$(TARGET_OF) $(ORIGIN) $(REPO_URI)' 2>/dev/null |
        awk '$1 == "deb" && $2 == "Debian" && $3 !~ /security/ { print $3; exit }')
fi
if [ -z "$mirror" ]; then
    # No downloaded index yet: read the sources files themselves (one-line and deb822).
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null |
        sed -n -e 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' -e 's/^URIs: *\([^ ]*\).*/\1/p' |
        grep -v security | grep '/debian/\{0,1\}$' | head -n 1 || true)
fi
[ -n "$mirror" ] || die "no Debian archive found in the apt sources; set DEBIAN_MIRROR"
mirror="${mirror%/}"

arch=$(dpkg --print-architecture)
started=$(date +%s)
say "fetching cosign $COSIGN_VERSION and skopeo $SKOPEO_VERSION from $mirror $SUITE ($arch) into $tools"

work="$tools/.apt"
rm -rf "$work"
mkdir -p "$work/etc/sources.list.d" "$work/etc/preferences.d" "$work/etc/trusted.gpg.d" \
    "$work/state/lists/partial" "$work/cache/archives/partial" "$work/debs"
: >"$work/state/status"
echo "deb [arch=$arch signed-by=$KEYRING] $mirror $SUITE main" >"$work/etc/sources.list"
# Only this file configures apt for these calls (APT_CONFIG replaces
# /etc/apt/apt.conf; Dir::Etc::Parts still reads /etc/apt/apt.conf.d for proxies).
cat >"$work/apt.conf" <<EOF
Dir::Etc::SourceList "$work/etc/sources.list";
Dir::Etc::SourceParts "$work/etc/sources.list.d";
Dir::Etc::Preferences "$work/etc/preferences";
Dir::Etc::PreferencesParts "$work/etc/preferences.d";
Dir::Etc::Trusted "$work/etc/trusted.gpg";
Dir::Etc::TrustedParts "$work/etc/trusted.gpg.d";
Dir::State "$work/state";
Dir::State::Lists "$work/state/lists";
Dir::State::status "$work/state/status";
Dir::Cache "$work/cache";
Dir::Cache::Archives "$work/cache/archives";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
Acquire::Languages "none";
APT::Sandbox::User "$(id -un)";
Debug::NoLocking "true";
EOF
APT_CONFIG="$work/apt.conf"
export APT_CONFIG

apt-get -qq update >"$work/update.log" 2>&1 || { cat "$work/update.log" >&2; die "apt-get update failed"; }

# Pin the upstream versions the tests were written against.
check_version() { # package upstream-version
    v=$(apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1)
    [ -n "$v" ] || die "$1 is not in $SUITE on $mirror"
    case "$v" in
        "$2"-* | "$2"+*) ;;
        *) die "$SUITE has $1 $v, expected upstream $2" ;;
    esac
    say "$1 $v"
}
check_version cosign "$COSIGN_VERSION"
check_version skopeo "$SKOPEO_VERSION"

# shellcheck disable=SC2086 # word splitting of the package list is intended
(cd "$work/debs" && apt-get -qq download cosign $SKOPEO_PKGS) >"$work/download.log" 2>&1 ||
    { cat "$work/download.log" >&2; die "apt-get download failed"; }

rm -rf "$tools/cosign" "$tools/skopeo" "$tools/bin" "$tools/VERSIONS"
mkdir -p "$tools/cosign" "$tools/skopeo" "$tools/bin"
dpkg-deb -x "$work/debs"/cosign_*.deb "$tools/cosign"
for p in $SKOPEO_PKGS; do
    dpkg-deb -x "$work/debs/${p}"_*.deb "$tools/skopeo"
done

# trixie's loader: usr/lib/<triplet>/ld-linux*.so.* (libc6 is merged-/usr in trixie).
ldso=$(cd "$tools/skopeo" && find usr/lib lib -name 'ld-linux*.so.*' 2>/dev/null | head -n 1)
[ -n "$ldso" ] || die "no ld-linux loader in trixie's libc6"
libdir=$(dirname "$ldso")

cat >"$tools/bin/cosign" <<'EOF'
#!/bin/sh
# cosign from Debian 13, unpacked by scripts/provision-image-tools.sh.
root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
exec "$root/cosign/usr/bin/cosign" "$@"
EOF
cat >"$tools/bin/skopeo" <<EOF
#!/bin/sh
# skopeo from Debian 13, started through trixie's own loader and libc (Debian 12's
# libc is too old), unpacked by scripts/provision-image-tools.sh.
root=\$(CDPATH='' cd -- "\$(dirname -- "\$0")/.." && pwd)/skopeo
exec "\$root/$ldso" --library-path "\$root/$libdir" "\$root/usr/bin/skopeo" "\$@"
EOF
chmod 755 "$tools/bin/cosign" "$tools/bin/skopeo"
for deb in "$work/debs"/*.deb; do
    dpkg-deb --show --showformat='${Package} ${Version}\n' "$deb"
done >"$tools/VERSIONS"

installed_ok || {
    "$tools/bin/cosign" version >&2 || true
    "$tools/bin/skopeo" --version >&2 || true
    die "the unpacked tools do not run"
}
size=$(du -sk "$work/debs" | cut -f1)
rm -rf "$work"
say "done in $(($(date +%s) - started)) s ($((size / 1024)) MB of packages): $tools/bin/cosign, $tools/bin/skopeo"
