"""pymport_py on a Dask cluster (docs/scaling.md): a LocalCluster of 2 worker processes
maps functions that use npm packages (typescript, prettier) over many inputs.

The cluster runs in a subprocess with a cap (its own process group, killed whole if it
hangs), started once for the module; the tests check what it reported. Its workers
import tests/js/dask_tasks.py, whose ``base=__file__`` resolves tests/js/node_modules.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import pymport_py

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
JS_DIR = os.path.join(TESTS_DIR, "js")

TS_SOURCES = [f"const n{i}: number = {i} as number;\nexport const f{i} = (x: string) => x + n{i};"
              for i in range(40)]
JS_SOURCES = [f"const   n{i}={{a:[{i},  'x'] , b : {i}*2}}\nfunction f{i}( x ){{return x+n{i}.b}}"
              for i in range(40)]

CLIENT = r"""
import json, os, sys
from distributed import Client, LocalCluster
import dask_tasks
import pymport_py

def read_missing(path):          # sent by value (cloudpickle): defined in __main__
    return pymport_py.require("fs").readFileSync(path, "utf8")

def describe(error):
    return {"type": f"{type(error).__module__}.{type(error).__qualname__}",
            "str": str(error),
            "is_js_error": isinstance(error, pymport_py.JSError),
            "is_syntax_error": isinstance(error, SyntaxError),
            **{k: getattr(error, k, None) for k in ("name", "message", "stack", "code")},
            "value": vars(error.value) if hasattr(getattr(error, "value", None), "__dict__") else None}

def failure(future):
    # What .result() raised at the client (as the user sees it), described.
    try:
        return {"unexpected result": repr(future.result(timeout=60))}
    except Exception as error:
        return describe(error)

# The spawned worker processes import this file again (as __mp_main__): only the client
# starts the cluster.
if __name__ == "__main__":
    sources = json.loads(sys.argv[1])
    report = {"client_pid": os.getpid()}
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        report["transpiled"] = client.gather(client.map(dask_tasks.transpile, sources["ts"]))
        report["formatted"] = client.gather(client.map(dask_tasks.pretty, sources["js"]))
        report["meetings"] = {}
        for address in client.scheduler_info()["workers"]:
            both = [client.submit(dask_tasks.meet, mine, other, workers=[address], pure=False)
                    for mine, other in (("first", "second"), ("second", "first"))]
            report["meetings"][address] = client.gather(both)
        report["syntax_error"] = failure(client.submit(dask_tasks.pretty, "let = = 1;"))
        report["by_value_error"] = failure(client.submit(read_missing, "/no/such/dir/file"))
        report["unconverted"] = failure(client.submit(dask_tasks.unconverted))
        report["converted"] = client.submit(dask_tasks.converted).result(timeout=60)
    report["client_started_node"] = pymport_py.running()
    print("REPORT " + json.dumps(report))
"""


@pytest.fixture(scope="module")
def cluster_report(tmp_path_factory):
    """What the client of a 2-process LocalCluster saw (the dict CLIENT prints)."""
    script = tmp_path_factory.mktemp("dask") / "client.py"
    script.write_text(textwrap.dedent(CLIENT), encoding="utf-8")
    env = dict(os.environ)
    # The workers import dask_tasks (tests/js) and pymport_py (this checkout) as the client does.
    env["PYTHONPATH"] = os.pathsep.join([JS_DIR, REPO_ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    proc = subprocess.Popen(
        [sys.executable, str(script), json.dumps({"ts": TS_SOURCES, "js": JS_SOURCES})],
        cwd=str(script.parent), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)     # the client, its nannies and workers
        out, err = proc.communicate()
        pytest.fail(f"the Dask client did not finish in 240 s\n--- stdout ---\n{out}\n"
                    f"--- stderr ---\n{err[-6000:]}")
    lines = [line for line in out.splitlines() if line.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, (
        f"exit code {proc.returncode}\n--- stdout ---\n{out}\n--- stderr ---\n{err[-6000:]}")
    report = json.loads(lines[-1][len("REPORT "):])
    report["stderr"] = err
    return report


def test_a_map_over_many_inputs_gives_each_npm_result_back(cluster_report, npm_dir):
    # The same packages in this process give what the workers gave.
    ts = pymport_py.require("typescript", base=npm_dir)
    expected = [ts.transpileModule(s, {"compilerOptions": {"module": ts.ModuleKind.CommonJS}}).outputText
                for s in TS_SOURCES]
    assert cluster_report["transpiled"] == expected
    assert "exports.f7 = f7;" in expected[7] and "number" not in expected[7]
    prettier = pymport_py.require("prettier", base=npm_dir)
    expected = [prettier.format(s, {"parser": "babel"}).result(60) for s in JS_SOURCES]
    assert cluster_report["formatted"] == expected
    assert expected[3].startswith("const n3 = { a: [3, \"x\"], b: 3 * 2 };\n")


def test_each_worker_process_has_its_own_node(cluster_report):
    meetings = cluster_report["meetings"]
    assert len(meetings) == 2
    pids = set()
    for address, results in meetings.items():
        (pid,) = {r["pid"] for r in results}
        assert all(r["node_pid"] == pid for r in results), results   # Node runs in the worker
        pids.add(pid)
    assert len(pids) == 2 and cluster_report["client_pid"] not in pids


def test_threads_of_a_worker_share_its_node(cluster_report):
    # Two tasks on the same worker ran at once on its two threads, each waiting for the
    # other's mark in the one JavaScript global state of that process.
    for address, results in cluster_report["meetings"].items():
        assert [r["met"] for r in results] == [True, True], results
        assert len({r["thread"] for r in results}) == 2, results


def test_a_js_error_in_a_task_reaches_the_client_with_its_stack(cluster_report):
    error = cluster_report["syntax_error"]
    assert error["type"] == "pymport_py.JSSyntaxError"
    assert error["is_js_error"] and error["is_syntax_error"]
    assert error["name"] == "SyntaxError"
    assert error["message"].startswith("Unexpected token (1:7)")
    assert error["str"] == f"SyntaxError: {error['message']}"
    assert os.path.join("node_modules", "prettier") in error["stack"]
    assert "let = = 1" in error["value"]["codeFrame"]        # prettier's own plain-data property
    assert not cluster_report["client_started_node"]          # unpickling it needed no Node


def test_a_function_sent_by_value_raises_with_the_code(cluster_report):
    error = cluster_report["by_value_error"]
    assert error["type"] == "pymport_py.JSError"
    assert error["code"] == "ENOENT"
    assert error["value"]["syscall"] == "open" and error["value"]["path"] == "/no/such/dir/file"
    assert "readFileSync" in error["stack"]


def test_js_results_must_be_converted_before_they_leave_the_worker(cluster_report):
    error = cluster_report["unconverted"]
    assert error["type"] == "builtins.TypeError"
    assert "JSObject" in error["str"]
    # The worker logs why, with the fix.
    assert "convert it with .to_py()" in cluster_report["stderr"]
    assert cluster_report["converted"] == {"a": [1, 2]}
