"""`python -m pymport_py FILE [ARGS]` runs JavaScript as `node FILE` would;
without FILE it is a JavaScript REPL that reaches Python."""
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

CLI_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js", "cli")


def cli(*args, input=None, timeout=60, cwd=CLI_DIR):
    return subprocess.run([sys.executable, "-m", "pymport_py", *args], input=input,
                          stdin=None if input is not None else subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


def report(proc):
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def test_commonjs_main_module_runs_until_node_would_end():
    proc = cli("main.js", "3", "--flag", "x y")
    assert proc.returncode == 3, report(proc)
    lines = proc.stdout.splitlines()
    first = json.loads(lines[0])
    assert first == {"args": ["3", "--flag", "x y"], "script": os.path.join(CLI_DIR, "main.js"),
                     "isMain": True, "answer": 42}
    assert lines[1:] == ["timer", "scheduled in beforeExit", "exit 3 after 2 beforeExit"]


def test_es_module_with_top_level_await():
    proc = cli("main.mjs", "a", "b")
    assert proc.returncode == 0, report(proc)
    assert proc.stdout == "main.mjs 9 py a,b\n"


def test_relative_path_from_another_directory(tmp_path):
    proc = cli(os.path.relpath(os.path.join(CLI_DIR, "main.mjs"), tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, report(proc)
    assert proc.stdout.startswith("main.mjs 9 py")


def test_process_exit_sets_the_status():
    proc = cli("exits.js", "now")
    assert (proc.returncode, proc.stdout) == (5, "before\n"), report(proc)
    proc = cli("exits.js", "later")  # from a timer, with an interval still active
    assert (proc.returncode, proc.stdout) == (6, "before\n"), report(proc)


def test_uncaught_error_in_the_main_module_prints_its_stack():
    proc = cli("fail-sync.js")
    assert proc.returncode == 1, report(proc)
    assert "RangeError: sync failure" in proc.stderr
    assert f"at explode ({os.path.join(CLI_DIR, 'fail-sync.js')}:2:" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name, message", [("fail-async.js", "TypeError: async failure"),
                                           ("fail-rejection.js", "Error: rejected failure")])
def test_uncaught_error_later_ends_the_program_as_in_node(name, message):
    proc = cli(name)
    assert proc.returncode == 1, report(proc)
    assert message in proc.stderr
    assert os.path.join(CLI_DIR, name) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_file():
    proc = cli("no-such-file.js")
    assert proc.returncode == 1
    assert "cannot find 'no-such-file.js'" in proc.stderr


def test_node_options_before_the_file(tmp_path):
    script = tmp_path / "gc.js"
    script.write_text("console.log(typeof gc, process.argv.slice(2).join(' '))")
    proc = cli("--expose-gc", str(script), "--not-an-option")
    assert (proc.returncode, proc.stdout) == (0, "function --not-an-option\n"), report(proc)


def test_js_and_python_output_keep_their_order():
    proc = cli("calls-python.js")
    assert (proc.returncode, proc.stdout) == (0, "js 1\npy 2\njs 3\n"), report(proc)


def test_help():
    proc = cli("--help")
    assert proc.returncode == 0 and "python -m pymport_py" in proc.stdout


@pytest.mark.parametrize("mode", ["idle", "busy"])
def test_ctrl_c_stops_the_program(mode):
    # idle: an interval keeps it alive; busy: the main module never returns.
    # "ready" says the program is in that state: the signal goes right after it.
    # SIGINT's default disposition, even if this run inherited it ignored.
    reset = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    # Python's stdout on a pipe is block-buffered: console.log (idle) must flush it as
    # node's synchronous pipe writes would, or "ready" never arrives.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen([sys.executable, "-m", "pymport_py", "forever.js", mode],
                            cwd=CLI_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=reset, env=env)
    try:
        assert select.select([proc.stdout], [], [], 30)[0], 'no "ready" from the program'
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err


def test_repl_on_a_pipe_evaluates_lines_and_reaches_python():
    lines = [
        "pyval('6 * 7').toJS() + 1",
        "const math = pymport('math')",
        "math.get('factorial').call(5).toJS()",
        "require('pymport').PyObject === PyObject",
        "process.exitCode = 4",
    ]
    proc = cli(input="\n".join(lines) + "\n")
    assert proc.returncode == 4, report(proc)
    values = [v.strip() for v in proc.stdout.split(">") if v.strip()]
    assert values == ["43", "undefined", "120", "true", "4"]


def test_repl_reports_errors_and_goes_on():
    proc = cli(input="pyval('1 / 0')\n1 + 1\n")
    assert proc.returncode == 0, report(proc)
    assert "Uncaught Error: ZeroDivisionError: division by zero" in proc.stdout
    assert "> 2\n" in proc.stdout


def _read_until(fd, marker, timeout=30.0):
    out = b""
    end = time.monotonic() + timeout
    while marker not in out and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def test_repl_in_a_terminal():
    pid, fd = pty.fork()
    if pid == 0:  # the child: the REPL on a terminal
        os.chdir(CLI_DIR)
        os.execv(sys.executable, [sys.executable, "-m", "pymport_py"])
    try:
        assert b"Welcome to Node.js" in _read_until(fd, b"> ")
        os.write(fd, b"pyval('[1, 2, 3]').toJS().map((x) => x * 7).join('-')\r")
        assert b"'7-14-21'" in _read_until(fd, b"21'")
        os.write(fd, b".exit\r")
        _read_until(fd, b"never printed", timeout=5)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0


def test_node_options_before_the_file_and_an_unknown_one_exits_9_as_node_does():
    proc = cli("--enable-source-maps", "options.js")
    assert proc.returncode == 0, report(proc)
    assert proc.stdout == "true true\n"
    proc = cli("--no-such-option", "options.js")
    assert proc.returncode == 9, report(proc)
    assert proc.stderr == "python -m pymport_py: bad option: --no-such-option\n"
    assert proc.stdout == ""
