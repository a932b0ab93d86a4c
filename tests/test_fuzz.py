"""The conversion fuzzer (fuzz/, scripts/fuzz; DEVELOPERS.md): a short fixed run of it, so
that its model of the conversions stays in step with them, and the promise that a case is
reproduced alone from its seed and number. The timed run is in .ci/run."""
import os
import subprocess
import sys


def fuzz(repo_root, *args):
    proc = subprocess.run([sys.executable, os.path.join(repo_root, "fuzz", "run.py"), *args],
                          capture_output=True, text=True, timeout=180, cwd=repo_root,
                          stdin=subprocess.DEVNULL)
    return proc, proc.stdout.splitlines()


def test_a_short_fuzz_run_finds_nothing(repo_root):
    proc, lines = fuzz(repo_root, "--seed", "1", "--cases", "300")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines[-1].startswith("fuzz: 300 cases in ") and lines[-1].endswith("(seed 1), 0 failures")


def test_a_case_runs_alone_as_it_ran_in_its_run(repo_root):
    _, run = fuzz(repo_root, "--seed", "7", "--cases", "40", "--verbose")
    proc, alone = fuzz(repo_root, "--seed", "7", "--case", "33", "--verbose")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    case = [line for line in run if line.startswith("case 33: ")]
    assert case and case == [line for line in alone if line.startswith("case 33: ")]
    assert alone[-1].startswith("fuzz: 1 case in ")
