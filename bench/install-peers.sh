#!/usr/bin/env bash
# Install the peer packages that bench/bench.py compares against, one at a time, keeping whichever
# install. bench.py never installs anything itself; it reports "not installed" for missing peers.
#   JSPyBridge  -> PyPI `javascript`   (runs the `node` found on PATH; fetches its npm deps on first import)
#   mini-racer  -> PyPI `mini-racer`   (imports as `py_mini_racer`; ships its own V8)
#   PythonMonkey-> PyPI `pythonmonkey` (ships SpiderMonkey)
set -u
PY=${PYTHON:-python3}
ok=() ; failed=()
for pkg in javascript mini-racer pythonmonkey; do
    echo "== pip install $pkg"
    if "$PY" -m pip install -q --root-user-action=ignore "$pkg"; then
        ok+=("$pkg")
    else
        failed+=("$pkg")
    fi
done
echo "installed: ${ok[*]:-none}"
echo "failed:    ${failed[*]:-none}"
exit 0
