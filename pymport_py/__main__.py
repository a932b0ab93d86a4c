"""``python -m pymport_py``: node's command line, in the Node embedded in this Python.

    python -m pymport_py [OPTIONS...] FILE.js [ARGS...]
    python -m pymport_py [OPTIONS...] -e CODE | -p CODE [ARGS...]
    python -m pymport_py [OPTIONS...] - [ARGS...]        # the program from stdin
    python -m pymport_py [OPTIONS...]                    # a JavaScript REPL

The file runs as ``node FILE.js`` would run it, as the main module (CommonJS, or
an ES module for ``.mjs`` files and ``.js`` files of a ``"type": "module"``
package), with ``process.argv`` set to ``[execPath, FILE, ...ARGS]`` and
``require('pymport')`` reaching this Python. The program ends when Node would
end it: when nothing is left to do ('beforeExit' and 'exit' are emitted), or at
``process.exit()``. The exit status is ``process.exitCode`` (or the code given
to ``process.exit``); an uncaught JavaScript error prints its stack and exits
with 1, as in Node. The same runner is the embedded Node's ``process.execPath``
(the ``node`` launcher, pymport_py/_launcher.py). See docs/cli.md.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Sequence

import pymport_py
from pymport_py import _launcher
from pymport_py._pymport import Environment

USAGE = """usage: {prog} [OPTIONS...] [FILE | -e CODE | -p CODE | -] [ARGS...]

Runs JavaScript in the Node embedded in this Python, as node does, with
require('pymport') / import 'pymport' reaching this Python. Without a program,
starts a JavaScript REPL in which pyval(), pymport() and PyObject are defined.

options handled here, as node handles them:
  -e, --eval CODE          run CODE (ARGS are process.argv[1:])
  -p, --print CODE         run CODE and print its value
  -                        read the program from standard input
  --                       the end of the options: FILE comes next
  -r, --require MODULE     load a CommonJS module first (from the working directory)
  --import MODULE          import an ES module first (Node 18.18 or later)
  --input-type TYPE        commonjs or module: how -e, -p and stdin code runs
  -i, --interactive        the REPL, even if standard input is not a terminal
  --inspect[=[HOST:]PORT]  the inspector, on 127.0.0.1:9229 by default
  --inspect-brk[=[HOST:]PORT]  the same, waiting for a debugger before the program
  --inspect-port=[HOST:]PORT   where --inspect listens
  --title TITLE            process.title
  -v, --version            print the versions
  -h, --help               print this help
Any other option goes to Node's own parser: Node's options of the embedded Node
(--enable-source-maps, --experimental-*, --no-warnings, --conditions=NAME, ...)
and V8's flags (--expose-gc, --max-old-space-size=N, ...). An unknown option
ends the program with status 9, as in node."""

# Node's options that take a value, which may be the next argument
# (`--conditions development`); Node's own parser gets them as --name=value.
_VALUE_OPTIONS = frozenset("""
    -C --conditions --experimental-loader --loader --title --inspect-port --debug-port
    --disable-proto --dns-result-order --diagnostic-dir --heapsnapshot-signal
    --heapsnapshot-near-heap-limit --icu-data-dir --openssl-config --policy-integrity
    --experimental-policy --redirect-warnings --report-dir --report-directory
    --report-filename --report-signal --secure-heap --secure-heap-min --tls-cipher-list
    --tls-keylog --unhandled-rejections --use-largepages --max-http-header-size
    --cpu-prof-dir --cpu-prof-name --cpu-prof-interval --heap-prof-dir --heap-prof-name
    --heap-prof-interval --es-module-specifier-resolution
    --experimental-specifier-resolution --experimental-default-type --stack-trace-limit
    --localstorage-file --experimental-config-file --permission-audit
""".split())

# node's own modes, which the embedded Node cannot run.
_UNSUPPORTED = frozenset("""
    -c --check --test --watch --watch-path --watch-preserve-output --prof-process
    --v8-options --completion-bash --run --build-snapshot --build-snapshot-config
    --snapshot-blob --experimental-sea-config --env-file --env-file-if-exists
    --inspect-wait --inspect-brk-node --experimental-test-coverage
""".split())

_DEFAULT_INSPECT = ("127.0.0.1", 9229)


class _BadOption(Exception):
    """A command line node would refuse (exit status 9)."""


@dataclasses.dataclass
class CommandLine:
    """What a node command line asks for."""

    node_options: list[str] = dataclasses.field(default_factory=list)  # for Node's parser
    exec_argv: list[str] = dataclasses.field(default_factory=list)     # as typed
    requires: list[str] = dataclasses.field(default_factory=list)
    imports: list[str] = dataclasses.field(default_factory=list)
    eval_source: str | None = None
    print_result: bool = False
    input_type: str | None = None
    inspect: tuple[str, int] | None = None
    inspect_wait: bool = False
    inspect_address: tuple[str, int] = _DEFAULT_INSPECT
    interactive: bool = False
    title: str | None = None
    help: bool = False
    version: bool = False
    script: str | None = None  # a file, or "-" for standard input
    args: list[str] = dataclasses.field(default_factory=list)


def _host_port(value: str, default: tuple[str, int]) -> tuple[str, int]:
    """node's [HOST:]PORT (or HOST alone)."""
    host, port = default
    if value.isdigit():
        return host, int(value)
    if value.startswith("["):  # [::1]:9229
        inside, _, after = value[1:].partition("]")
        return inside, int(after[1:]) if after.startswith(":") and after[1:].isdigit() else port
    name, colon, number = value.rpartition(":")
    if colon and number.isdigit():
        return name or host, int(number)
    if value and not colon:
        return value, port
    raise _BadOption(f"invalid inspector address: {value}")


def parse_command_line(args: Sequence[str]) -> CommandLine:
    """Reads node's command line: options up to the first argument that is not
    one (or ``--``), then the program and its arguments. Raises _BadOption."""
    cmd = CommandLine()
    args = list(args)
    i = 0

    def value_of(name: str, inline: str | None) -> str:
        nonlocal i
        if inline is not None:
            return inline
        if i >= len(args):
            raise _BadOption(f"{name} requires an argument")
        i += 1
        cmd.exec_argv.append(args[i - 1])
        return args[i - 1]

    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if arg == "-" or not arg.startswith("-"):
            break
        i += 1
        cmd.exec_argv.append(arg)
        name, eq, inline_value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        inline = inline_value if eq else None
        if name in ("-h", "--help"):
            cmd.help = True
        elif name in ("-v", "--version"):
            cmd.version = True
        elif name in ("-e", "--eval"):
            cmd.eval_source = value_of(name, inline)
        elif name in ("-p", "--print", "-pe"):
            cmd.eval_source = value_of(name, inline)
            cmd.print_result = True
        elif name in ("-r", "--require"):
            cmd.requires.append(value_of(name, inline))
        elif name == "--import":
            cmd.imports.append(value_of(name, inline))
        elif name == "--input-type":
            cmd.input_type = value_of(name, inline)
            if cmd.input_type not in ("module", "commonjs"):
                raise _BadOption('--input-type must be "module" or "commonjs"')
        elif name in ("-i", "--interactive"):
            cmd.interactive = True
        elif name in ("--inspect", "--inspect-brk"):
            if inline is not None:
                cmd.inspect_address = _host_port(inline, cmd.inspect_address)
            cmd.inspect = cmd.inspect_address
            cmd.inspect_wait = cmd.inspect_wait or name == "--inspect-brk"
        elif name in ("--inspect-port", "--debug-port"):
            cmd.inspect_address = _host_port(value_of(name, inline), cmd.inspect_address)
            if cmd.inspect is not None:
                cmd.inspect = cmd.inspect_address
        elif name == "--title":
            cmd.title = value_of(name, inline)
        elif name in _UNSUPPORTED or name.startswith("--test-"):
            raise _BadOption(f"{name} is not supported by pymport_py (see docs/cli.md)")
        elif name in _VALUE_OPTIONS:
            cmd.node_options.append(f"{name}={value_of(name, inline)}")
        else:
            cmd.node_options.append(arg)
    rest = args[i:]
    if cmd.eval_source is not None:
        cmd.args = rest
    elif rest:
        cmd.script, cmd.args = rest[0], rest[1:]
    return cmd


# Runs on the main module's behalf: Node's own handling of uncaught errors
# (print the stack, exit with 1) replaces pymport_py's library default (which
# reports them to sys.unraisablehook and goes on).
_AS_NODE = r"""(() => {
  process.removeAllListeners('uncaughtException');
  process.removeAllListeners('unhandledRejection');
})()"""

_CLI_JS = os.path.join(os.path.dirname(os.path.abspath(pymport_py.__file__)), "js", "cli.js")
_PROCESS_JS = os.path.join(os.path.dirname(os.path.abspath(pymport_py.__file__)), "js",
                           "process.js")

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
    # On the loop thread, as Node emits it from its event loop: the ticks and
    # microtasks of the listeners run before this returns (a call from Python
    # would leave them to the loop thread's next turn, docs/threading.md#turns).
    # 'exit' once, as node guards it (process._exiting), so the shutdown after it
    # does not emit it again.
    emit = env.eval("""(event) => {
      if (event === 'exit') {
        if (process._exiting) return;
        process._exiting = true;
      }
      process.emit(event, process.exitCode ?? 0);
    }""")
    emit.call_async(event).result()


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


def _node_version_tuple(env: Environment) -> tuple[int, ...]:
    return tuple(int(p) for p in str(env.eval("process.versions.node")).split(".")[:3])


def _print_versions(cmd: CommandLine, as_node: bool) -> int:
    """node -v prints Node's version; the runner also names pymport_py's and Python's."""
    pymport_py.start(cmd.node_options)
    version = pymport_py.eval("process.version")
    print(version)
    if not as_node:
        print(f"pymport_py {pymport_py.__version__}, Python {sys.version.split()[0]}")
    return 0


def run(cmd: CommandLine, prog: str = "python -m pymport_py", as_node: bool = False) -> int:
    """Runs what ``cmd`` asks for in the main environment; returns the exit status.

    ``as_node``: run as the node launcher, which reads a program from standard
    input when there is none and stdin is not a terminal, as node does (the
    runner starts its REPL there instead)."""
    script = cmd.script
    if script is not None and script != "-":
        file = os.path.abspath(script)
        argv = [file, *cmd.args]
    elif script == "-":
        argv = ["-", *cmd.args]
    else:
        argv = list(cmd.args)
    stdin_program = script == "-" or (
        as_node and script is None and cmd.eval_source is None and not cmd.interactive
        and not os.isatty(0))
    source = sys.stdin.read() if stdin_program else None
    pymport_py.start(cmd.node_options)  # Node refuses a bad option before a missing file
    if script is not None and script != "-" and not os.path.exists(argv[0]):
        sys.stderr.write(f"{prog}: cannot find {script!r}\n")
        return 1
    env = pymport_py._env()
    env.eval(_AS_NODE)
    cli = env.require(_CLI_JS)
    cli.setArgv(argv)
    env.require(_PROCESS_JS).setup(_launcher.path(), cmd.exec_argv, cmd.eval_source)
    if cmd.title is not None:
        env.globalThis.process.title = cmd.title
    if cmd.imports and _node_version_tuple(env) < (18, 18):
        raise _BadOption("bad option: --import")
    try:
        if cmd.inspect is not None:
            host, port = cmd.inspect
            cli.inspect(host, port, cmd.inspect_wait)
        if cmd.requires:
            cli.preload(cmd.requires)
        if cmd.imports:
            cli.importAll(cmd.imports).result()
        if cmd.eval_source is not None or source is not None:
            name = "[eval]" if cmd.eval_source is not None else "[stdin]"
            code = cmd.eval_source if cmd.eval_source is not None else source
            started = cli.evalSource(name, code, cmd.print_result, cmd.input_type)
        elif script is not None:
            started = cli.runMain(argv[0])
        else:
            env.eval(_REPL)(sys.version.split()[0])
            started = None
        if started is not None:
            started.result()  # the ES module graph evaluated (top-level await included)
    except pymport_py.JSError as error:
        _print_js_error(env, error)
        return 1
    return _wait_until_done(env)


def run_file(path: str, args: Sequence[str], node_options: Sequence[str] = ()) -> int:
    """Runs ``path`` as Node's main module; returns the process exit status."""
    return run(CommandLine(node_options=list(node_options), exec_argv=list(node_options),
                           script=path, args=list(args)))


def repl(node_options: Sequence[str] = ()) -> int:
    """Runs Node's REPL on standard input until it ends; returns the exit status."""
    return run(CommandLine(node_options=list(node_options), exec_argv=list(node_options),
                           interactive=True))


# Subcommands: `python -m pymport_py NAME ARGS...` with NAME one of these
# (not a file of that name). The node launcher has none, as node has none.
def _npm_command(args: list[str]) -> int:
    """npm for the embedded Node's native addons (pymport_py/_npm.py)."""
    from pymport_py import _npm

    return _npm.main(args)


SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {"npm": _npm_command}
_RESERVED: tuple[str, ...] = ()


def main(argv: Sequence[str] | None = None, prog: str = "python -m pymport_py",
         as_node: bool = False) -> int:
    """Command line entry point: ``python -m pymport_py [OPTIONS...] [PROGRAM [ARGS...]]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not as_node and args and args[0] in SUBCOMMANDS:
        return SUBCOMMANDS[args[0]](args[1:])
    if not as_node and args and args[0] in _RESERVED:
        sys.stderr.write(f"{prog}: {args[0]}: this subcommand is not available in this version\n")
        return 2
    try:
        cmd = parse_command_line(args)
    except _BadOption as error:
        sys.stderr.write(f"{prog}: {error}\n")
        return 9
    if cmd.help:
        print(USAGE.format(prog=prog))
        return 0
    terminal = _save_terminal()
    # An ignored SIGINT (nohup, a background job) stays ignored, as in node.
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
        signal.signal(signal.SIGINT, _interrupts)
    try:
        if cmd.version:
            return _print_versions(cmd, as_node)
        return run(cmd, prog, as_node)
    except _BadOption as error:
        sys.stderr.write(f"{prog}: {error}\n")
        return 9
    except ValueError as error:
        if "Node rejected the options" not in str(error):
            raise
        # as node does: the message, and status 9 (invalid argument)
        sys.stderr.write(f"{prog}: {str(error).split(': ', 2)[-1]}\n")
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


def launched() -> int:
    """The node launcher's entry point: ``sys.argv`` is ``['-c', NAME, ARGS...]``,
    NAME the path the launcher was run as (process.argv0)."""
    name = sys.argv[1] if len(sys.argv) > 1 else "node"
    _launcher.argv0 = name
    return main(sys.argv[2:], prog=name, as_node=True)


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
