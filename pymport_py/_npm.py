"""``python -m pymport_py npm ARGS...``: npm, with native addons built for the embedded Node.

npm builds an addon's binary for the Node that runs npm, the system ``node``.
An addon written against V8's C++ API (better-sqlite3, for one) only loads in
the Node whose ``NODE_MODULE_VERSION`` it was built for, and the embedded
libnode is often another version (Debian 12's libnode108 is Node 18, while a
system ``node`` may be 20). This command runs ``npm ARGS...`` (``install``,
``ci``, ``rebuild``, any npm arguments) with the environment variables through
which npm's install scripts tell node-gyp and prebuild-install what to build for:

- ``npm_config_nodedir``: the embedded Node's headers (Debian's libnode-dev of the
  same ``NODE_MODULE_VERSION``), so node-gyp builds against them and downloads none;
- ``npm_config_target`` and ``npm_config_runtime``: the embedded Node's version,
  so prebuild-install fetches a prebuilt binary for that ABI (or, where it cannot
  reach its download host, fails and the package's script builds it instead).

The headers are found in ``$PYMPORT_NODEDIR`` (a prefix holding
``include/node/node_version.h``), ``$PYMPORT_LIBNODE``, ``/usr`` and the
checkout's ``.libnode`` (which scripts/install-deps fills), in that order, and
must have the embedded libnode's ``NODE_MODULE_VERSION``. See docs/npm.md.

Run as a file (``python pymport_py/_npm.py ARGS...``) in a checkout that is not
built yet, it builds for the libnode the build will use: the first of those
prefixes that has both the headers and their libnode (setup.py's order).
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from typing import NamedTuple, Sequence

_HERE = os.path.dirname(os.path.abspath(__file__))
PROG = "python -m pymport_py npm"


class NodeHeaders(NamedTuple):
    """A prefix with Node's headers in ``include/node`` (node-gyp's ``--nodedir``)."""
    prefix: str
    version: str          # "18.20.4"
    module_version: int   # NODE_MODULE_VERSION, e.g. 108


def read_headers(prefix: str) -> NodeHeaders | None:
    """The headers in prefix/include/node, or None when it has none."""
    path = os.path.join(prefix, "include", "node", "node_version.h")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    defines = dict(re.findall(r"^#define (NODE_\w+) (\d+)\s*$", text, re.M))
    try:
        version = ".".join(defines[k] for k in ("NODE_MAJOR_VERSION", "NODE_MINOR_VERSION",
                                                "NODE_PATCH_VERSION"))
        return NodeHeaders(os.path.abspath(prefix), version, int(defines["NODE_MODULE_VERSION"]))
    except KeyError:
        return None


def _has_libnode(headers: NodeHeaders) -> bool:
    soname = "libnode.so.%d" % headers.module_version
    return bool(glob.glob(os.path.join(headers.prefix, "lib", "*", soname))
                or glob.glob(os.path.join(headers.prefix, "lib", soname)))


def candidates() -> list[str]:
    """The prefixes searched for headers, in order."""
    found = [os.environ.get("PYMPORT_NODEDIR"), os.environ.get("PYMPORT_LIBNODE"), "/usr",
             os.path.join(os.path.dirname(_HERE), ".libnode")]
    return [p for p in found if p]


def embedded_module_version() -> int:
    """NODE_MODULE_VERSION of the libnode the extension is linked with (its
    soname ends with it); Node is not started."""
    from pymport_py import _pymport
    return int(str(_pymport._libnode_soname).rsplit(".", 1)[1])


def find_headers(module_version: int | None) -> NodeHeaders:
    """The first headers of module_version among candidates(); with None, the
    first that come with their libnode (the one setup.py would build with).
    Raises LookupError naming what was searched and how to get them."""
    seen = []
    for prefix in candidates():
        headers = read_headers(prefix)
        if headers is None:
            continue
        seen.append(f"{headers.prefix} (Node {headers.version}, "
                    f"NODE_MODULE_VERSION {headers.module_version})")
        if module_version is None and _has_libnode(headers):
            return headers
        if headers.module_version == module_version:
            return headers
    wanted = ("" if module_version is None
              else f" with NODE_MODULE_VERSION {module_version} (the embedded libnode's)")
    raise LookupError(
        f"no Node headers{wanted} in {', '.join(candidates())}"
        + (f"; found {'; '.join(seen)}" if seen else "")
        + ". Install Debian's libnode-dev of the same version as the libnode in use "
        "(scripts/install-deps unpacks it into .libnode when apt refuses), "
        "or set PYMPORT_NODEDIR to a prefix with include/node/node_version.h.")


def npm_environment(headers: NodeHeaders, base: dict[str, str] | None = None) -> dict[str, str]:
    """base (os.environ by default) with the variables that make npm's install
    scripts build for these headers' Node."""
    env = dict(os.environ if base is None else base)
    env.update({
        "npm_config_nodedir": headers.prefix,
        "npm_config_target": headers.version,
        "npm_config_runtime": "node",
    })
    return env


def main(argv: Sequence[str], *, as_file: bool = False) -> int:
    """Runs ``npm argv...`` for the embedded Node; returns npm's exit status."""
    npm = shutil.which("npm")
    if npm is None:
        sys.stderr.write(f"{PROG}: npm is not on PATH (it runs the system's npm)\n")
        return 127
    try:
        headers = find_headers(None if as_file else embedded_module_version())
    except LookupError as error:
        sys.stderr.write(f"{PROG}: {error}\n")
        return 1
    sys.stderr.write(f"{PROG}: native addons are built for the embedded Node {headers.version} "
                     f"(NODE_MODULE_VERSION {headers.module_version}), headers from "
                     f"{headers.prefix}\n")
    sys.stderr.flush()
    with subprocess.Popen([npm, *argv], env=npm_environment(headers)) as proc:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                # Ctrl-C reached npm too (same process group): let it stop.
                continue


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], as_file=True))
