"""npm packages that start more Node threads, Node processes or a browser, used from
Python: tinypool (its worker_threads and child_process pools) and puppeteer-core
driving Debian's chromium (tests/js/package.json, installed by `npm ci`).

Each test runs in a fresh interpreter with a timeout, since a pool or a browser
that hangs would otherwise hang the suite. The child changes to tests/js after
importing pymport_py, so that `require` and `import_module` find the packages.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.parse

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
JS_DIR = os.path.join(TESTS_DIR, "js")
POOLS_DIR = os.path.join(JS_DIR, "pools")


@pytest.fixture(autouse=True)
def _npm_packages_installed():
    marker = os.path.join(JS_DIR, "node_modules", ".package-lock.json")
    assert os.path.isfile(marker), (
        "the npm packages of tests/js are not installed: run scripts/install-deps "
        "(or `npm ci` in tests/js)")


def report(proc):
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def run_python(code, timeout=120):
    """Runs `code` (dedented) in a fresh interpreter from tests/js; its last line of
    output is JSON."""
    prologue = "import json, os, sys\nimport pymport_py as node\nos.chdir(%r)\n" % JS_DIR
    proc = subprocess.run([sys.executable, "-c", prologue + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, report(proc)
    return json.loads(proc.stdout.splitlines()[-1])


def gone(pid):
    """True when process `pid` has ended and was reaped (waits up to 30 s)."""
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --------------------------------------------------------------------------
# tinypool: a pool of worker threads, or of child processes started through
# process.execPath (the node launcher, which runs this Python's pymport_py)

def pool_from_python(runtime, end="pool.destroy().result(60)"):
    """Runs task.mjs four times in a tinypool of two workers made from Python, and
    once with an argument it rejects; `end` is what Python does with the pool then."""
    task = os.path.join(POOLS_DIR, "task.mjs")
    return run_python(f"""
        tinypool = node.import_module("tinypool")
        pool = tinypool.Tinypool.new(filename={task!r}, runtime={runtime!r}, minThreads=2, maxThreads=2)
        pending = [pool.run({{"a": a, "b": 10}}) for a in (1, 2, 3, 4)]
        results = [p.result(60).to_py() for p in pending]
        try:
            pool.run({{"a": -1, "b": 0}}).result(60)
            error = None
        except node.JSError as e:
            error = [e.name, e.message]
        {end}
        print(json.dumps({{"pid": os.getpid(), "execPath": node.eval("process.execPath"),
                          "results": results, "error": error}}))
    """)


def check_results(out, runtime):
    """The four tasks' sums (computed in JavaScript) and squares (asked of Python by
    the task through require('pymport')), and where they ran."""
    results = out["results"]
    assert [r["sum"] for r in results] == [11, 12, 13, 14]
    assert [r["square"] for r in results] == [1, 4, 9, 16]
    assert out["error"] == ["RangeError", "negative: -1"]
    assert all(r["execPath"] == out["execPath"] for r in results)
    if runtime == "worker_threads":
        assert {r["pid"] for r in results} == {out["pid"]}
        assert all(r["threadId"] > 0 for r in results)
    else:
        assert out["pid"] not in {r["pid"] for r in results}
        assert {r["ppid"] for r in results} == {out["pid"]}
        assert {r["threadId"] for r in results} == {0}
    return {r["pid"] for r in results}


def test_tinypool_worker_threads_from_python():
    out = pool_from_python("worker_threads")
    check_results(out, "worker_threads")


def test_tinypool_child_processes_from_python():
    out = pool_from_python("child_process")
    children = check_results(out, "child_process")
    assert os.path.basename(out["execPath"]) == "node"
    assert all(gone(pid) for pid in children)


def test_tinypool_child_processes_end_with_the_python_that_started_them():
    # no destroy(): the children see their IPC channel close when Python exits
    out = pool_from_python("child_process", end="")
    children = check_results(out, "child_process")
    assert all(gone(pid) for pid in children)


@pytest.mark.parametrize("runtime", ["worker_threads", "child_process"])
def test_tinypool_in_a_script_run_by_the_runner(runtime):
    proc = subprocess.run([sys.executable, "-m", "pymport_py", os.path.join(POOLS_DIR, "run-pool.mjs"),
                           runtime], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, report(proc)
    out = json.loads(proc.stdout)
    out["error"] = out["error"].split(": ", 1)
    check_results(out, runtime)


# --------------------------------------------------------------------------
# puppeteer-core: Debian's chromium (scripts/install-deps installs it), headless,
# without its sandbox since the tests run as root. A page's functions are sent to
# the browser as their source text, so they are JavaScript functions (node.eval)
# or strings; puppeteer looks at its caller's stack frames, which a call from
# Python has too.

CHROMIUM = shutil.which("chromium")

PAGE = ("<title>pymport</title><h1>Hello</h1>"
        "<ul><li class=n>one</li><li class=n>two</li><li>three</li></ul>")


@pytest.fixture
def profile(tmp_path):
    """The browser's profile directory (fails, never skips, without chromium). Any
    browser process still using it after the test (one left behind by a child that
    timed out) is killed."""
    assert CHROMIUM, "Debian's chromium is not installed: run scripts/install-deps"
    path = str(tmp_path / "profile")
    yield path
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if path.encode() in cmdline:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass


def launch(profile):
    return (f"puppeteer.launch(executablePath={CHROMIUM!r}, args=['--no-sandbox'], "
            f"userDataDir={profile!r}, timeout=60000)")


def test_puppeteer_from_python_with_result(profile):
    out = run_python(f"""
        puppeteer = node.require("puppeteer-core")
        browser = {launch(profile)}.result(90)
        try:
            page = browser.newPage().result(60)
            page.setContent({PAGE!r}).result(60)
            out = {{
                "function": page.evaluate(node.eval("(sel) => document.querySelectorAll(sel).length"),
                                          "li").result(60),
                "string": page.evaluate("document.title + ' ' + document.querySelector('h1').textContent")
                              .result(60),
                "$eval": getattr(page, "$eval")("h1", node.eval("(el, s) => el.textContent.toUpperCase() + s"),
                                                "!").result(60),
                "$$eval": getattr(page, "$$eval")("li.n", node.eval("(els) => els.map((e) => e.textContent)"))
                              .result(60).to_py(),
                "stack": page.evaluate(node.eval("() => new Error('here').stack")).result(60),
            }}
            try:
                page.evaluate("throw new TypeError('thrown in the page')").result(60)
            except node.JSError as e:
                out["error"] = e.message
            out["version"] = browser.version().result(60)
        finally:
            browser.close().result(60)
        print(json.dumps(out))
    """)
    assert out["function"] == 3
    assert out["string"] == "pymport Hello"
    assert out["$eval"] == "HELLO!"
    assert out["$$eval"] == ["one", "two"]
    # puppeteer names the page's script after its caller's call site: Python's frame
    assert "pptr:evaluate;[python]:" in urllib.parse.unquote(out["stack"])
    assert "thrown in the page" in out["error"]
    assert out["version"].startswith(("Chrome/", "HeadlessChrome/"))


def test_puppeteer_from_asyncio_with_a_python_function_exposed_to_the_page(profile):
    out = run_python(f"""
        import asyncio
        puppeteer = node.require("puppeteer-core")

        async def main():
            browser = await {launch(profile)}
            try:
                page = await browser.newPage()
                await page.exposeFunction("pyWords", lambda text: text.split())
                await page.setContent({PAGE!r})
                return {{
                    "words": await page.evaluate("pyWords(document.querySelector('ul').innerText)"),
                    "$eval": await getattr(page, "$eval")("li:last-child", node.eval("(el) => el.outerHTML")),
                    "handle": await (await getattr(page, "$")("h1")).evaluate(node.eval("(el) => el.tagName")),
                }}
            finally:
                await browser.close()

        print(json.dumps(asyncio.run(main()), default=lambda o: o.to_py()))
    """)
    assert out == {"words": ["one", "two", "three"], "$eval": "<li>three</li>", "handle": "H1"}
