#!/bin/sh
# setup-deps.sh [grade|test|instructor] - make sure the tools the kit needs are here.
# Installs what is missing with apt-get (as root, or through sudo without a
# password prompt); otherwise names the exact command and fails.
set -u
purpose=${1:-grade}
missing=""
need() { missing="$missing $1"; }

command -v gcc >/dev/null 2>&1 || need gcc
command -v pkg-config >/dev/null 2>&1 || need pkg-config
command -v valgrind >/dev/null 2>&1 || need valgrind
command -v bwrap >/dev/null 2>&1 || need bubblewrap      # the sandbox (sandbox.h)
command -v objcopy >/dev/null 2>&1 || need binutils
command -v gdb >/dev/null 2>&1 || need gdb                # where threads were when a test hung
if command -v pkg-config >/dev/null 2>&1; then
    pkg-config --exists cunit || need libcunit1-dev
    pkg-config --exists jansson || need libjansson-dev
    pkg-config --exists libxml-2.0 || need libxml2-dev
    pkg-config --exists libcrypto || need libssl-dev        # the grader's cache (SHA-256)
else
    need libcunit1-dev; need libjansson-dev; need libxml2-dev; need libssl-dev
fi
if [ "$purpose" = test ] || [ "$purpose" = instructor ]; then   # batch and packaging
    if command -v pkg-config >/dev/null 2>&1; then
        pkg-config --exists libarchive || need libarchive-dev
    else
        need libarchive-dev
    fi
    command -v jq >/dev/null 2>&1 || need jq
    command -v bsdtar >/dev/null 2>&1 || need libarchive-tools   # writes the platform zips
fi
if [ "$purpose" = test ]; then
    [ -x /usr/bin/time ] || need time                       # peak memory in tests/robustness
fi
# Checks that make test runs when it can: a missing one is skipped, not failed
# (on Ubuntu, chromium is a snap that containers often cannot run).
optional=""
if [ "$purpose" = test ]; then
    command -v chromium >/dev/null 2>&1 || optional="$optional chromium"   # renders report.html
    command -v yamllint >/dev/null 2>&1 || optional="$optional yamllint"   # the Classroom workflow
fi
# ThreadSanitizer's runtime comes with gcc on Debian and Ubuntu; say so if not.
tsan_ok() {
    t=$(mktemp -d) || return 1
    printf 'int main(void){return 0;}\n' > "$t/t.c"
    gcc -fsanitize=thread "$t/t.c" -o "$t/t" >/dev/null 2>&1; rc=$?
    rm -rf "$t"
    return $rc
}

if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then sudo=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"
    else
        echo "The kit needs:$missing. Install them with:" >&2
        echo "    sudo apt-get install -y$missing" >&2
        exit 2
    fi
    echo "Installing what the kit needs:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null &&
        $sudo apt-get install -y -qq --no-install-recommends$missing >/dev/null ||
        { echo "apt-get could not install:$missing" >&2; exit 2; }
fi
if [ -n "$optional" ] && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    [ -n "$missing" ] || $sudo apt-get update -qq >/dev/null 2>&1   # else done above
    for p in $optional; do
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$p" \
            >/dev/null 2>&1 || echo "($p could not be installed: make test skips the check that uses it)" >&2
    done
fi
if command -v gcc >/dev/null 2>&1 && ! tsan_ok; then
    echo "gcc cannot build with -fsanitize=thread: install gcc's ThreadSanitizer runtime" >&2
    echo "    sudo apt-get install -y libtsan2   (libtsan0 on older releases)" >&2
    exit 2
fi
exit 0
