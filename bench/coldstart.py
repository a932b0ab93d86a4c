"""Cold start and RSS of a whole process: pymport_py against `python -c pass` and `node -e 0`.

    python3 bench/coldstart.py [--runs N]

Each command runs N times (default 15), the commands taking turns so that a change of the
machine's load touches all of them alike; the figures are the medians of the wall time and of
the CPU time (user + system, all threads: less sensitive to other work on the machine). With
NODE_EXTRA_CA_CERTS set (a CA bundle that Node 18 and 20 read at process start), the node and
pymport_py rows run once with it and once without it. RSS is /proc/self/statm's resident
size in a fresh process after `pymport_py.eval('1')` (median of 5). See docs/scaling.md#cold-start.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
EVAL = "import pymport_py as n; n.eval('1+1')"
STATM = ("import os; print(int(open('/proc/self/statm').read().split()[1])"
         " * os.sysconf('SC_PAGE_SIZE'))")


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU ms) of one run of argv."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=HERE, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    if status != 0:
        raise RuntimeError(f"{argv} failed: {status}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def output(argv: list[str], env: dict[str, str] | None = None) -> str:
    return subprocess.run(argv, env=env, cwd=HERE, check=True, capture_output=True,
                          text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    node = shutil.which("node")
    with_ca = dict(os.environ)
    without_ca = {k: v for k, v in os.environ.items() if k != "NODE_EXTRA_CA_CERTS"}
    ca = os.environ.get("NODE_EXTRA_CA_CERTS")
    cases: list[tuple[str, list[str], dict[str, str]]] = [
        ("python -c pass", [PY, "-c", "pass"], with_ca),
        ("python -c 'import pymport_py'", [PY, "-c", "import pymport_py"], with_ca),
        (f"python -c \"{EVAL}\"", [PY, "-c", EVAL], with_ca),
    ]
    if node:
        cases.append(("node -e 0", [node, "-e", "0"], with_ca))
    if ca:
        cases.append(("  the same without NODE_EXTRA_CA_CERTS", [PY, "-c", EVAL], without_ca))
        if node:
            cases.append(("node -e 0 without NODE_EXTRA_CA_CERTS", [node, "-e", "0"], without_ca))
    versions = output([PY, "-c", "import sys, pymport_py as n; print(n.eval('process.version'), "
                       "sys.version.split()[0], n._pymport._startup_snapshot())"])
    node_version = output([node, "--version"]) if node else "none"
    print(f"Node {versions.split()[0]} (snapshot: {versions.split()[2]}), Python "
          f"{versions.split()[1]}, node binary {node_version}, NODE_EXTRA_CA_CERTS={ca or ''}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for _, argv, env in cases:  # warm-up: page cache, launcher file
        timed(argv, env)
    walls: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    cpus: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    for _ in range(runs):
        for label, argv, env in cases:
            wall, cpu = timed(argv, env)
            walls[label].append(wall)
            cpus[label].append(cpu)
    med = {label: statistics.median(values) for label, values in walls.items()}
    cpu_med = {label: statistics.median(values) for label, values in cpus.items()}
    print(f"{'':60s} {'wall':>8s}     {'CPU':>8s}")
    for label, _, _ in cases:
        print(f"{label:60s} {med[label]:8.1f} ms  {cpu_med[label]:8.1f} ms")
    if node:
        start = cases[2][0]
        base = med["python -c pass"] + med["node -e 0"]
        cpu_base = cpu_med["python -c pass"] + cpu_med["node -e 0"]
        print(f"{'pymport_py start / (python -c pass + node -e 0)':60s} "
              f"{med[start] / base:8.2f}x     {cpu_med[start] / cpu_base:8.2f}x")
    rss = [int(output([PY, "-c", "import pymport_py; pymport_py.eval('1'); " + STATM]))
           for _ in range(5)]
    bare = [int(output([PY, "-c", STATM])) for _ in range(5)]
    print(f"{'RSS after pymport_py.eval(1)':60s} {statistics.median(rss) / 2**20:8.1f} MiB")
    print(f"{'RSS of a bare python':60s} {statistics.median(bare) / 2**20:8.1f} MiB")
    if node:
        rss_node = [int(output([node, "-e", "console.log(process.memoryUsage().rss)"]))
                    for _ in range(5)]
        print(f"{'RSS of node -e':60s} {statistics.median(rss_node) / 2**20:8.1f} MiB")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
