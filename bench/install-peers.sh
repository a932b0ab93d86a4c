#!/usr/bin/env bash
# Install the peer packages that bench/bench.py compares against, one at a time, keeping whichever
# install. bench.py never installs anything itself; it reports "not installed" for missing peers,
# with the reason this script left.
#   PythonMonkey -> PyPI `pythonmonkey` (ships SpiderMonkey; its `pminit` dependency is an sdist
#                   whose build runs `npm i`, so it needs npm and the network)
#   mini-racer   -> PyPI `mini-racer`   (imports as `py_mini_racer`; ships its own V8)
#   JSPyBridge   -> PyPI `javascript`   (runs the `node` found on PATH)
#
# They go into a directory of their own (`pip install --target`), one per CPython version,
# outside the checkout, which bench.py puts first on the peers' PYTHONPATH:
#   ${PYMPORT_BENCH_PEERS:-~/.cache/pymport_py/bench-peers}/cpXY   (`bench.py --peer-target`)
# so neither Debian's externally managed python3 nor the venv the tests run in changes. A peer
# that the interpreter (or that directory) can import already is left as it is. Only wheels of
# the peers themselves are taken (`--only-binary`): a PythonMonkey or mini-racer source build
# means building SpiderMonkey or V8.
#   PYTHON=python3.14 bash bench/install-peers.sh
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PYTHON:-python3}
target=$("$PY" "$here/bench.py" --peer-target) || { echo "install-peers: $PY cannot run bench.py" >&2; exit 1; }
pyver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
mkdir -p "$target"
# Debian's node may not read the system's CA bundle by itself (pminit's npm).
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    export NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The module each distribution imports as.
module_of() {
    case "$1" in
        mini-racer) echo py_mini_racer ;;
        *) echo "$1" ;;
    esac
}

# Why pip failed, in one line, from its output in $log.
reason() {
    local pkg=$1
    if grep -q -E 'NewConnectionError|Failed to establish a new connection|Network is unreachable|Temporary failure in name resolution' "$log"; then
        echo "pip could not reach the package index: $(grep -m1 -o -E 'NewConnectionError|Failed to establish a new connection|Network is unreachable|Temporary failure in name resolution' "$log")"
    elif grep -q -E 'No matching distribution found|Could not find a version that satisfies' "$log"; then
        echo "no $pkg wheel for CPython $pyver on $(uname -m) (pip: $(grep -m1 -E 'No matching distribution|Could not find a version' "$log" | sed 's/^ERROR: //' | cut -c1-120))"
    else
        echo "pip install $pkg failed: $(grep -E 'ERROR|Error|error' "$log" | tail -1 | sed 's/^ERROR: //' | cut -c1-160)"
    fi
}

ok=() ; present=() ; failed=()
for pkg in pythonmonkey mini-racer javascript; do
    mod=$(module_of "$pkg")
    rm -f "$target/.failed-$pkg"
    if PYTHONPATH="$target${PYTHONPATH:+:$PYTHONPATH}" "$PY" -c "import $mod" >/dev/null 2>&1; then
        echo "== $pkg: already importable"
        present+=("$pkg")
        continue
    fi
    if [ "$pkg" = pythonmonkey ] && ! command -v npm >/dev/null; then
        echo "pminit (PythonMonkey's npm packages) builds with npm, and there is no npm here (Debian: apt-get install npm)" \
            > "$target/.failed-$pkg"
        echo "== $pkg: $(cat "$target/.failed-$pkg")"
        failed+=("$pkg")
        continue
    fi
    echo "== pip install --target $target $pkg"
    if "$PY" -m pip install -q --disable-pip-version-check --target "$target" --upgrade \
            --only-binary "$pkg" "$pkg" >"$log" 2>&1 \
       && PYTHONPATH="$target" "$PY" -c "import $mod" >>"$log" 2>&1; then
        ok+=("$pkg")
    else
        tail -5 "$log"
        reason "$pkg" > "$target/.failed-$pkg"
        echo "== $pkg: $(cat "$target/.failed-$pkg")"
        failed+=("$pkg")
    fi
done
echo "installed: ${ok[*]:-none}"
echo "present:   ${present[*]:-none}"
echo "missing:   ${failed[*]:-none}"
exit 0
