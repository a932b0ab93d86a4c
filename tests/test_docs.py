"""The examples in README.md and docs/*.md run, and print what they say they print.

The conventions (doctest sessions, scripts with stated output, JavaScript blocks, file
blocks, ``<!-- not-run: reason -->``) are described in tests/docs_runner.py. Each page's
doctests run as one session in a fresh interpreter; every script block runs in its own.
"""
from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys

import pytest

import docs_runner
from docs_runner import REPO_ROOT, TESTS_DIR

PAGES = docs_runner.pages()
BLOCKS = [b for page in PAGES for b in docs_runner.blocks(page)]
# Blocks marked <!-- not-run: reason --> are shown, not tests (test_blocks_are_known
# checks that each gives its reason).
RUN = [b for b in BLOCKS if getattr(b, "skip", None) is None]
NODE_MODULES = os.path.join(TESTS_DIR, "js", "node_modules")


@pytest.fixture(scope="module")
def page_dirs(tmp_path_factory):
    """page -> its working directory, with the page's file blocks and node_modules."""
    dirs = {}
    for page in PAGES:
        where = tmp_path_factory.mktemp(os.path.basename(page).replace(".", "_"))
        docs_runner.write_files(page, str(where))
        if os.path.isdir(NODE_MODULES):
            os.symlink(NODE_MODULES, where / "node_modules")
        dirs[page] = str(where)
    return dirs


def _command(kind, target, cwd):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([REPO_ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    proc = subprocess.run([sys.executable, os.path.join(TESTS_DIR, "docs_runner.py"), kind, target],
                          cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)
    return proc.returncode, (f"exit code {proc.returncode}\n--- stdout ---\n{proc.stdout}"
                             f"\n--- stderr ---\n{proc.stderr}")


def _job(key, page_dirs):
    """(kind, target, cwd) for a test's key: a page (its doctests) or a block."""
    if isinstance(key, str):
        return "doctest", key, page_dirs[key]
    cwd = page_dirs[key.page]
    suffix = {"script": "py", "js": "js", "console": "txt"}[key.kind]
    path = os.path.join(cwd, f"_doc_{key.line}.{suffix}")
    with open(path, "w", encoding="utf-8") as f:
        f.write(key.text if key.kind == "console" else docs_runner.padded(key))
    return key.kind, path, cwd


@pytest.fixture(scope="module")
def outcomes(request, page_dirs):
    """Starts the runs of all selected tests of this module at once, a few at a time (each
    is a fresh interpreter, mostly waiting), and gives key -> future of (returncode, report)."""
    keys = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if item.module is sys.modules[__name__] and callspec is not None:
            key = callspec.params.get("page", callspec.params.get("block"))
            if key is not None and getattr(key, "skip", None) is None:
                keys.append(key)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 1) + 1))
    futures = _Outcomes({_key_id(k): pool.submit(_command, *_job(k, page_dirs)) for k in keys})
    futures.page_dirs = page_dirs
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


class _Outcomes(dict):
    page_dirs: dict


def _key_id(key):
    return key if isinstance(key, str) else key.id


def _check(key, outcomes):
    future = outcomes.get(_key_id(key))
    returncode, report = future.result() if future else _command(*_job(key, outcomes.page_dirs))
    if returncode and not os.path.isdir(NODE_MODULES):
        report += ("\n(tests/js/node_modules is missing, which examples of npm packages need: "
                   "run scripts/install-deps, or `npm ci` in tests/js)")
    assert returncode == 0, report


@pytest.mark.parametrize("page", [p for p in PAGES
                                  if any(b.kind == "doctest" for b in docs_runner.blocks(p))])
def test_doctests(page, outcomes):
    _check(page, outcomes)


@pytest.mark.parametrize("block", [b for b in RUN if b.kind == "script"], ids=lambda b: b.id)
def test_python_script(block, outcomes):
    _check(block, outcomes)


@pytest.mark.parametrize("block", [b for b in RUN if b.kind == "js"], ids=lambda b: b.id)
def test_js_script(block, outcomes):
    _check(block, outcomes)


@pytest.mark.parametrize("block", [b for b in RUN if b.kind == "console"], ids=lambda b: b.id)
def test_shell_session(block, outcomes):
    _check(block, outcomes)


def test_blocks_are_known():
    """Every block has a language; a not-run marker gives a reason; pages are covered."""
    problems = []
    for b in BLOCKS:
        if not b.lang:
            problems.append(f"{b.id}: a code block without a language")
        elif b.kind == "shown" and b.lang not in docs_runner.OTHER_LANGS:
            problems.append(f"{b.id}: unknown language {b.lang!r} (add it to docs_runner.OTHER_LANGS "
                            "if it is only shown)")
        if b.skip == "":
            problems.append(f"{b.id}: <!-- not-run --> needs a reason: <!-- not-run: why -->")
    assert not problems, "\n".join(problems)
    assert "README.md" in PAGES and "docs/getting-started.md" in PAGES
