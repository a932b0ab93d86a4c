"""``python -m pymport_py``: run a JavaScript file in the embedded Node, or a REPL.

    python -m pymport_py [NODE_OPTIONS...] FILE.js [ARGS...]
    python -m pymport_py [NODE_OPTIONS...]            # a JavaScript REPL

The file runs as ``node FILE.js`` would run it, as the main module (CommonJS, or
an ES module for ``.mjs`` files and ``.js`` files of a ``"type": "module"``
package), with ``process.argv`` set to ``[executable, FILE, ...ARGS]`` and
``require('pymport')`` reaching this Python. The program ends when Node would
end it: when nothing is left to do ('beforeExit' and 'exit' are emitted), or at
``process.exit()``. The exit status is ``process.exitCode`` (or the code given
to ``process.exit``); an uncaught JavaScript error prints its stack and exits
with 1, as in Node. See docs/cli.md.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any, Sequence

import pymport_py
from pymport_py._pymport import Environment

USAGE = """usage: python -m pymport_py [NODE_OPTIONS...] [FILE [ARGS...]]

Runs FILE (CommonJS or ES module) in the Node embedded in this Python, with
require('pymport') / import 'pymport' reaching this Python. Without FILE, starts
a JavaScript REPL in which pyval(), pymport() and PyObject are defined.
Leading options (--expose-gc, --max-old-space-size=N) go to Node/V8."""

# Runs on the main module's behalf: Node's own handling of uncaught errors
# (print the stack, exit with 1) replaces pymport_py's library default (which
# reports them to sys.unraisablehook and goes on).
_AS_NODE = r"""(() => {
  process.removeAllListeners('uncaughtException');
  process.removeAllListeners('unhandledRejection');
})()"""

# (file) => the result of running it as the main module: undefined for
# CommonJS, a Promise of the namespace for an ES module.
_RUN_MAIN = r"""(file, esmPath) => {
  const Module = require('module');
  const { isModuleEntry } = require(esmPath);
  if (isModuleEntry(file, {})) return import(require('url').pathToFileURL(file).href);
  Module._load(file, null, true);
  return undefined;
}"""

_REPL = r"""(version) => {
  const repl = require('repl');
  const tty = require('tty');
  const api = require('pymport');
  const terminal = tty.isatty(0) && tty.isatty(1);
  const output = terminal ? new tty.WriteStream(1) : process.stdout;
  if (terminal) {
    output.write(`Welcome to Node.js ${process.version} in Python ${version}.\n` +
                 'pyval(), pymport(), proxify() and PyObject reach Python; .help for help.\n');
  }
  const server = repl.start({ input: process.stdin, output, terminal, useGlobal: true });
  Object.assign(server.context, {
    pymport: api.pymport, pyval: api.pyval, proxify: api.proxify, PyObject: api.PyObject,
  });
  server.on('exit', () => process.exit());
}"""


def _emit(env: Environment, event: str) -> None:
    env.eval(f"process.emit({event!r}, process.exitCode ?? 0)")


def _exit_code(env: Environment) -> int:
    code = env.eval("process.exitCode")
    return int(code) if isinstance(code, (int, float)) else 0


class _Interrupts:
    """Ctrl-C raises KeyboardInterrupt as usual, and is remembered: one that hit
    Python code called from JavaScript (console.log's write, say) became a JS
    exception there, which the JavaScript may have caught."""

    def __init__(self) -> None:
        self.seen = False

    def __call__(self, signum: int, frame: object) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.seen:
            raise KeyboardInterrupt


_interrupts = _Interrupts()


def _wait_until_done(env: Environment) -> int:
    """Waits as `node` does until nothing is left to run; returns the exit code."""
    while True:
        pause = 0.001
        while env.busy():
            _interrupts.check()
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
        _interrupts.check()
        _emit(env, "beforeExit")
        if not env.busy():
            break
    _emit(env, "exit")
    return _exit_code(env)


def _print_js_error(env: Environment, error: pymport_py.JSError) -> None:
    """Reports an error of the main module's evaluation as Node does."""
    text = error.stack if isinstance(error.stack, str) else f"Uncaught {error}"
    sys.stderr.write(f"{text}\n\nNode.js {env.eval('process.version')}\n")


def run_file(path: str, args: Sequence[str], node_options: Sequence[str] = ()) -> int:
    """Runs ``path`` as Node's main module; returns the process exit status."""
    file = os.path.abspath(path)
    if not os.path.exists(file):
        sys.stderr.write(f"python -m pymport_py: cannot find {path!r}\n")
        return 1
    pymport_py.start([*node_options, file, *args])
    env = pymport_py._env()
    env.eval(_AS_NODE)
    esm = os.path.join(os.path.dirname(pymport_py.__file__), "js", "esm.js")
    try:
        started = env.eval(_RUN_MAIN)(file, esm)
        if started is not None:
            started.result()  # the ES module graph evaluated (top-level await included)
    except pymport_py.JSError as error:
        _print_js_error(env, error)
        return 1
    return _wait_until_done(env)


def repl(node_options: Sequence[str] = ()) -> int:
    """Runs Node's REPL on standard input until it ends; returns the exit status."""
    pymport_py.start([*node_options, "[repl]"])
    env = pymport_py._env()
    env.eval(_AS_NODE)
    env.eval(_REPL)(sys.version.split()[0])
    return _wait_until_done(env)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point: ``python -m pymport_py [NODE_OPTIONS...] [FILE [ARGS...]]``."""
    first = list(sys.argv[1:] if argv is None else argv)
    if first[:1] == ["npm"]:  # npm for the embedded Node's native addons (pymport_py/_npm.py)
        from pymport_py import _npm
        return _npm.main(first[1:])
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    options: list[str] = []
    while args and args[0].startswith("-"):
        options.append(args.pop(0))
    terminal = _save_terminal()
    # An ignored SIGINT (nohup, a background job) stays ignored, as in node.
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
        signal.signal(signal.SIGINT, _interrupts)
    try:
        if args:
            return run_file(args[0], args[1:], options)
        return repl(options)
    except ValueError as error:
        if "Node rejected the options" not in str(error):
            raise
        # as node does: the message, and status 9 (invalid argument)
        sys.stderr.write(f"python -m pymport_py: {str(error).split(': ', 2)[-1]}\n")
        return 9
    except pymport_py.ProcessExit as stop:  # process.exit(code) during a call
        return int(stop.code or 0)
    except pymport_py.EnvironmentClosed:  # process.exit(code) from the event loop
        code = pymport_py._main.exit_code if pymport_py._main is not None else None
        if code is None:
            raise
        return int(code)
    except KeyboardInterrupt:
        return 130
    finally:
        pymport_py.shutdown()
        _restore_terminal(terminal)


def _save_terminal() -> list[Any] | None:
    """The terminal's mode, if stdin is one (the REPL puts it in raw mode)."""
    try:
        import termios

        return termios.tcgetattr(0) if os.isatty(0) else None
    except (ImportError, OSError):
        return None


def _restore_terminal(mode: list[Any] | None) -> None:
    # `node` resets the terminal at exit; a REPL left by process.exit() would
    # otherwise leave it raw.
    if mode is not None:
        import termios

        try:
            termios.tcsetattr(0, termios.TCSADRAIN, mode)
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
