"""`python -m pymport_py FILE [ARGS]` runs JavaScript as `node FILE` would;
without FILE it is a JavaScript REPL that reaches Python."""
import json
import os
import pty
import select
import shutil
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
    assert "Uncaught Error: Python exception: division by zero" in proc.stdout
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


# ---- node's command line ------------------------------------------------------------------

def launcher():
    """The node launcher of this Python (process.execPath of the embedded Node)."""
    out = subprocess.run([sys.executable, "-c", "import pymport_py._launcher as l; print(l.path())"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert os.path.isabs(out) and os.access(out, os.X_OK), out
    return out


def node_version():
    return cli("-p", "process.versions.node").stdout.strip()


def test_version_prints_the_versions_and_exits_0():
    from pymport_py import __version__
    for flag in ("--version", "-v"):
        proc = cli(flag)
        assert proc.returncode == 0, report(proc)
        lines = proc.stdout.splitlines()
        assert lines == [f"v{node_version()}",
                         f"pymport_py {__version__}, Python {sys.version.split()[0]}"]
    # the launcher stands for node: its first line only, as tools parse it
    proc = subprocess.run([launcher(), "--version"], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, f"v{node_version()}\n"), report(proc)


def test_help_lists_the_options():
    proc = cli("-h")
    assert proc.returncode == 0, report(proc)
    for option in ("--eval", "--print", "--require", "--import", "--input-type", "--inspect"):
        assert option in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["--no-such-option", "-e", "1"], "bad option: --no-such-option"),
    (["--experimental-no-such-thing", "options.js"], "bad option: --experimental-no-such-thing"),
    (["-e"], "-e requires an argument"),
    (["--input-type=json", "-e", "1"], '--input-type must be "module" or "commonjs"'),
    (["--test"], "--test is not supported by pymport_py"),
])
def test_an_option_node_refuses_exits_9(args, message):
    proc = cli(*args)
    assert proc.returncode == 9, report(proc)
    assert proc.stderr.startswith(f"python -m pymport_py: {message}"), report(proc)
    assert proc.stdout == ""


def test_eval_and_print_with_their_arguments():
    proc = cli("-e", "console.log(JSON.stringify([process.argv.slice(1), __filename, "
               "typeof require, require.main, process.execArgv.slice(-2)]))", "a", "-b", "--", "c")
    assert proc.returncode == 0, report(proc)
    code = proc.stdout and json.loads(proc.stdout)[4][1]
    assert json.loads(proc.stdout) == [["a", "-b", "--", "c"], "[eval]", "function", None, ["-e", code]]
    proc = cli("-p", "require('pymport').pyval('6 * 7').toJS() + process.argv.length", "x")
    assert (proc.returncode, proc.stdout) == (0, "44\n"), report(proc)
    proc = cli("--print", "({ a: [1, 2] })")
    assert (proc.returncode, proc.stdout) == (0, "{ a: [ 1, 2 ] }\n"), report(proc)


def test_eval_errors_and_exit_codes_are_nodes():
    proc = cli("-e", "throw new TypeError('from eval')")
    assert proc.returncode == 1, report(proc)
    assert "TypeError: from eval" in proc.stderr and "at [eval]:1:" in proc.stderr
    proc = cli("-e", "process.exitCode = 3")
    assert proc.returncode == 3, report(proc)


def test_eval_as_an_es_module():
    proc = cli("--input-type=module", "-e",
               "import { pyval } from 'pymport'; import { sep } from 'node:path';"
               "await null; console.log(pyval('2 ** 10').toJS(), sep, import.meta.url)")
    assert proc.returncode == 0, report(proc)
    from urllib.parse import unquote
    # the URL node gives such input (pathToFileURL: brackets encoded or not by version)
    assert unquote(proc.stdout) == f"1024 / file://{os.path.join(CLI_DIR, '[eval1]')}\n"
    proc = cli("--input-type", "module", "-p", "1")
    assert proc.returncode == 1 and "--print cannot be used with ESM input" in proc.stderr


def test_dashdash_ends_the_options_and_dash_reads_stdin():
    proc = cli("--", "main.mjs", "--x")
    assert (proc.returncode, proc.stdout) == (0, "main.mjs 9 py --x\n"), report(proc)
    proc = cli("-", "a", input="console.log(JSON.stringify([process.argv.slice(1), __filename]))")
    assert (proc.returncode, proc.stdout) == (0, '[["-","a"],"[stdin]"]\n'), report(proc)
    proc = cli("--input-type=module", "-", input="import { pyval } from 'pymport';"
               "console.log(pyval('3 * 3').toJS())")
    assert (proc.returncode, proc.stdout) == (0, "9\n"), report(proc)


def test_require_and_import_load_before_the_program():
    proc = cli("--require", "./preload-a.js", "--import", "./preload-b.mjs",
               "shows-preloaded.js", "x")
    if tuple(map(int, node_version().split("."))) < (18, 18):
        assert proc.returncode == 9 and "bad option: --import" in proc.stderr, report(proc)
        return
    assert proc.returncode == 0, report(proc)
    assert json.loads(proc.stdout) == {"preloaded": ["preload-a", "preload-b.mjs"],
                                       "main": True, "argv": ["x"]}
    proc = cli("-r", "./preload-a.js", "-p", "globalThis.preloaded.join()")
    assert (proc.returncode, proc.stdout) == (0, "preload-a\n"), report(proc)


def test_node_options_with_a_separate_value_and_experimental_flags():
    proc = cli("--conditions", "development", "--expose-gc", "-p",
               "JSON.stringify([process.execArgv.slice(0, 3), typeof gc])")
    assert proc.returncode == 0, report(proc)
    assert json.loads(proc.stdout) == [["--conditions", "development", "--expose-gc"], "function"]
    if node_version().startswith("18."):  # a flag of Node 18 (Web Crypto is global from 20 on)
        proc = cli("--experimental-global-webcrypto", "-p", "typeof crypto.subtle")
        assert (proc.returncode, proc.stdout) == (0, "object\n"), report(proc)


def test_a_first_argument_npm_is_a_subcommand_not_a_file(tmp_path):
    (tmp_path / "npm").write_text("console.log('ran the file')")
    proc = cli("npm", "--version", cwd=tmp_path)
    assert "ran the file" not in proc.stdout, report(proc)


# ---- process.execPath: the node launcher ---------------------------------------------------

def test_exec_path_is_the_launcher_with_argv0_title_and_exec_argv_consistent():
    code = ("import json, pymport_py as node; node.start(['--expose-gc']);"
            "print(node.eval('JSON.stringify([process.execPath, process.argv[0], process.argv0,"
            " process.title, process.execArgv])'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=CLI_DIR)
    assert proc.returncode == 0, report(proc)
    exec_path, argv_0, argv0, title, exec_argv = json.loads(proc.stdout)
    assert exec_path == launcher() and os.path.basename(exec_path) == "node"
    assert argv_0 == argv0 == title == exec_path
    assert exec_argv == ["--expose-gc"]
    with open(exec_path) as f:
        assert os.path.abspath(sys.executable) in f.read()


def test_the_launcher_writes_itself_where_only_the_user_can_write(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    code = "import pymport_py as node; print(node.eval('process.execPath'))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env)
    path = proc.stdout.strip()
    assert proc.returncode == 0 and path.startswith(str(cache / "pymport_py")), report(proc)
    assert os.stat(os.path.dirname(path)).st_mode & 0o077 == 0
    # a launcher someone changed is written again before it is used
    with open(path, "a") as f:
        f.write("echo changed\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.stdout.strip() == path, report(proc)
    with open(path) as f:
        assert "echo changed" not in f.read()


def test_fork_from_a_script_run_by_the_runner():
    proc = cli("fork-parent.js")
    assert proc.returncode == 0, report(proc)
    assert json.loads(proc.stdout) == {
        "got": [{"hello": "from-parent", "connected": True, "execArgv": []}, {"answer": 42}],
        "code": 7}


def test_fork_from_a_python_program_using_pymport_py():
    child = os.path.join(CLI_DIR, "fork-child.js")
    code = f"""if True:
        import pymport_py as node
        done = node.eval('''new Promise((resolve) => {{
          const child = require('child_process').fork({child!r}, ['lib']);
          const got = [];
          child.on('message', (m) => {{ got.push(m); if (m.hello) child.send({{ question: 2 }}); }});
          child.on('exit', (code) => resolve(JSON.stringify({{ got, code }})));
        }})''')
        print(done.result(50))
    """
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=CLI_DIR, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, report(proc)
    assert json.loads(proc.stdout) == {
        "got": [{"hello": "lib", "connected": True, "execArgv": []}, {"answer": 14}], "code": 7}


@pytest.mark.skipif(shutil.which("node") is None, reason="no node on PATH")
def test_a_real_node_forks_the_launcher():
    script = ("const c = require('child_process').fork(process.argv[1], ['real'], "
              "{ execPath: process.argv[2] }); const got = [];"
              "c.on('message', (m) => { got.push(m); if (m.hello) c.send({ question: 3 }); });"
              "c.on('exit', (code) => console.log(JSON.stringify({ got, code })));")
    proc = subprocess.run([shutil.which("node"), "-e", script, os.path.join(CLI_DIR, "fork-child.js"),
                           launcher()], capture_output=True, text=True, timeout=60, cwd=CLI_DIR)
    assert proc.returncode == 0, report(proc)
    assert json.loads(proc.stdout) == {
        "got": [{"hello": "real", "connected": True, "execArgv": []}, {"answer": 21}], "code": 7}


def test_spawn_sync_of_exec_path_with_eval_and_print():
    script = ("const { spawnSync } = require('child_process');"
              "const e = spawnSync(process.execPath, ['-e', 'console.log(process.argv.slice(1).join())',"
              " 'a', 'b'], { encoding: 'utf8' });"
              "const p = spawnSync(process.execPath, ['-p', 'require(\"pymport\").pyval(\"6 * 7\").toJS()'],"
              " { encoding: 'utf8' });"
              "JSON.stringify([e.status, e.stdout, e.stderr, p.status, p.stdout, p.stderr])")
    code = f"import pymport_py as node; print(node.eval({script!r}))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=90, cwd=CLI_DIR, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, report(proc)
    assert json.loads(proc.stdout) == [0, "a,b\n", "", 0, "42\n", ""]


def test_the_launcher_reads_a_program_from_a_pipe_as_node_does():
    proc = subprocess.run([launcher()], input="console.log(process.argv.length, __filename)",
                          capture_output=True, text=True, timeout=60, cwd=CLI_DIR)
    assert (proc.returncode, proc.stdout) == (0, "1 [stdin]\n"), report(proc)
    proc = subprocess.run([launcher(), "--nope"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9 and proc.stderr == f"{launcher()}: bad option: --nope\n"


# ---- --inspect -----------------------------------------------------------------------------

def _inspector(*args):
    """Starts the runner with the inspector; returns (process, ws URL) once it printed the URL."""
    proc = subprocess.Popen([sys.executable, "-m", "pymport_py", *args], cwd=CLI_DIR,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = ""
    end = time.monotonic() + 60
    while "Debugger listening on" not in line and time.monotonic() < end:
        if not select.select([proc.stderr], [], [], 1)[0]:
            continue
        line = proc.stderr.readline()
        if not line:
            break
    assert line.startswith("Debugger listening on ws://"), line
    return proc, line.split()[-1]


def _ws_request(ws_url, message):
    """Sends one text frame to a WebSocket URL (a minimal client, RFC 6455) and
    returns the first reply that carries the same id."""
    import base64
    import socket
    import struct

    host_port, _, path = ws_url[len("ws://"):].partition("/")
    host, _, port = host_port.rpartition(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    reader = sock.makefile("rb")
    assert b" 101 " in reader.readline()
    while reader.readline() not in (b"\r\n", b""):
        pass
    payload = json.dumps(message).encode()
    mask = os.urandom(4)
    header = bytes([0x81]) + (bytes([0x80 | len(payload)]) if len(payload) < 126
                              else bytes([0x80 | 126]) + struct.pack(">H", len(payload)))
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    while True:
        first, second = reader.read(2)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack(">H", reader.read(2))[0]
        elif size == 127:
            size = struct.unpack(">Q", reader.read(8))[0]
        data = reader.read(size)
        if first & 0x0F == 1 and json.loads(data).get("id") == message["id"]:
            sock.close()
            return json.loads(data)


def _json_list(ws_url):
    import urllib.request

    port = ws_url.split("/")[2].split(":")[1]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as response:
        return json.load(response)


def test_inspect_listens_on_localhost_and_a_client_connects():
    proc, url = _inspector("--inspect=0", "-e", "setInterval(() => {}, 1000)")
    try:
        assert url.startswith("ws://127.0.0.1:"), url
        targets = _json_list(url)
        assert [t["webSocketDebuggerUrl"] for t in targets] == [url]
        reply = _ws_request(url, {"id": 1, "method": "Runtime.evaluate",
                                  "params": {"expression": "6 * 7"}})
        assert reply["result"]["result"]["value"] == 42
    finally:
        proc.kill()
        proc.communicate(timeout=30)


def test_inspect_brk_waits_for_a_debugger_before_the_program():
    proc, url = _inspector("--inspect-brk=127.0.0.1:0", "-e", "console.log('ran')")
    try:
        assert _json_list(url)[0]["webSocketDebuggerUrl"] == url
        _ws_request(url, {"id": 1, "method": "Runtime.runIfWaitingForDebugger"})
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert (proc.returncode, out) == (0, "ran\n"), err
