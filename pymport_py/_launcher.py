"""The ``node`` launcher: the embedded Node's ``process.execPath``.

Node code starts Node again through ``process.execPath``: ``child_process.fork()``,
``spawnSync(process.execPath, ['-e', code])``, worker pools in child-process
mode. In pymport_py that path would be the Python binary, which knows none of
node's options. So each environment gets as its ``execPath`` a small
executable file named ``node``, a ``/bin/sh`` script that runs pymport_py's
runner (``pymport_py.__main__``) with this very Python (``sys.executable``,
the venv's if there is one) and this very pymport_py, and takes node's command
line (docs/cli.md).

The file is written once per (Python, pymport_py location) in the user's cache
directory (``$XDG_CACHE_HOME/pymport_py`` or ``~/.cache/pymport_py``), in a
directory only the user can write; where that is impossible, in a private
temporary directory removed at exit. Its content is checked before each use
and rewritten (atomically) when it differs (docs/decisions.md).
"""
from __future__ import annotations

import _thread
import atexit
import os
import shlex
import stat
import sys
import zlib

# tempfile and shutil are imported where a file is written: they cost more than
# the rest of a cold start's Python imports, and the launcher is written once.

# The runner that the launcher runs: sys.argv is ['-c', $0, ARGS...]. The
# directory holding this pymport_py comes first on sys.path just long enough to
# import it, so that the child runs the same pymport_py whatever its sys.path.
_ENTRY = ("import sys; sys.path.insert(0, {where!r}); "
          "import pymport_py.__main__ as m; del sys.path[0]; sys.exit(m.launched())")

_lock = _thread.allocate_lock()
_path: str | None = None
_tried = False

# process.argv0 when this process was started by the launcher: the name it was
# run as ($0), as node's argv0 is its argv[0]. Set by pymport_py.__main__.
argv0: str | None = None


def script() -> str:
    """The launcher's text for this Python and this pymport_py."""
    where = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    python = os.path.abspath(sys.executable)
    return ("#!/bin/sh\n"
            "# node for pymport_py: runs JavaScript in the Node embedded in this Python.\n"
            f"exec {shlex.quote(python)} -c {shlex.quote(_ENTRY.format(where=where))}"
            ' "$0" "$@"\n')


def _private_dir(path: str) -> bool:
    """True when ``path`` is a real directory of this user that nobody else can write."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _not_writable_by_others(path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return True  # made by us below, or not at all
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _write(directory: str, text: str) -> str | None:
    """``directory/node`` with ``text``, written if it is missing or differs;
    None if ``directory`` cannot be made private to this user."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError:
        return None
    if not _private_dir(directory):
        return None
    target = os.path.join(directory, "node")
    try:
        with open(target, encoding="utf-8") as f:
            current = f.read()
        st = os.lstat(target)
        if (current == text and stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid()
                and os.access(target, os.X_OK)):
            return target
    except (OSError, UnicodeDecodeError):
        pass
    import tempfile

    try:
        fd, temporary = tempfile.mkstemp(prefix=".node-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(temporary, 0o755)
            os.replace(temporary, target)  # atomic: a concurrent reader sees one or the other
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        return None
    return target


def _cache_dir() -> str | None:
    base = os.environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "pymport_py")


def path() -> str | None:
    """The launcher's absolute path, written on first use; None when this Python
    has no ``sys.executable`` or no place to write it was found."""
    global _path, _tried
    if _tried:
        return _path
    with _lock:
        if _tried:
            return _path
        _tried = True
        if not sys.executable:
            return None
        text = script()
        # The directory's name tells launchers of different Pythons and pymport_py
        # locations apart (a checksum: the text is checked before each use anyway).
        key = f"{zlib.crc32(text.encode()):08x}"
        cache = _cache_dir()
        found = None
        # The cache's parent must not let others move our directory away.
        if cache is not None and _not_writable_by_others(os.path.dirname(cache)):
            try:
                os.makedirs(cache, mode=0o700, exist_ok=True)
            except OSError:
                pass
            if _private_dir(cache):
                found = _write(os.path.join(cache, f"node-{key}"), text)
        if found is None:
            import shutil
            import tempfile

            try:
                directory = tempfile.mkdtemp(prefix="pymport_py-node-")
            except OSError:
                return None
            atexit.register(shutil.rmtree, directory, True)
            found = _write(directory, text)
        _path = found
        return _path
