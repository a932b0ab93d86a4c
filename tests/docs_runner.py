"""Runs the examples of README.md and docs/*.md (used by tests/test_docs.py).

Conventions for code blocks in the documentation (fenced, with a language):

- ```python blocks with ``>>>`` lines are doctests. All of them on one page form one
  session: they run in order in one interpreter, sharing their names (ELLIPSIS and
  NORMALIZE_WHITESPACE are on).
- Other ```python blocks are scripts: each runs on its own, as ``__main__``, in a fresh
  interpreter. A trailing ``# comment`` on a ``print(...)`` line states what that line
  prints; on another expression statement, the ``repr`` of its value (not checked when the
  value is None). The comment may go on after the value with ``:``, ``,``, ``;`` or a space
  and an explanation (``# 0.5: in parallel``).
- ```js blocks are scripts run in pymport_py's main environment with ``pymport_py.eval``
  (waiting for the Promise when the last value is one). A trailing ``// comment`` on a line
  with ``console.log(...)`` states what it prints, as above.
- ```console blocks are shell sessions: each ``$ command`` line runs (with bash, ``python``
  being this interpreter) and must print the lines that follow it (as in a doctest: whitespace
  normalized, ``...`` matches anything).
- A block whose first line is ``# file: NAME`` (python) or ``// file: NAME`` (js) is a file
  that the other examples of the page use: it is written to the page's directory, not run.
- ``<!-- not-run: reason -->`` on the line before a block skips it. Blocks of other
  languages (sh, text, toml, ...) are only shown; a block without a language is an error.

Every example of a page runs in one temporary directory (the working directory; the file
blocks of the page are there, and ``node_modules`` links to tests/js/node_modules).

Command line (what the tests run in a subprocess, from the page's directory):
``docs_runner.py doctest PAGE.md`` runs the doctest session of a page; ``docs_runner.py script
FILE.py``, ``docs_runner.py js FILE.js`` and ``docs_runner.py console FILE.txt`` run a block
written to a file (code padded with blank lines, so that line numbers are the page's).
"""
from __future__ import annotations

import ast
import builtins
import dataclasses
import doctest
import io
import os
import re
import sys
import tokenize
import types

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)

PYTHON_LANGS = {"python", "py", "pycon"}
JS_LANGS = {"js", "javascript"}
# Languages whose blocks are shown, never run.
OTHER_LANGS = {"sh", "bash", "shell", "text", "toml", "ini", "json", "yaml", "cfg", "c",
               "diff", "ts", "typescript"}

NOT_RUN = re.compile(r"^<!--\s*not-run\s*(?::\s*(?P<reason>.*?))?\s*-->\s*$")
FILE_LINE = {"python": re.compile(r"^#\s*file:\s*(?P<name>\S+)\s*$"),
             "js": re.compile(r"^//\s*file:\s*(?P<name>\S+)\s*$")}


@dataclasses.dataclass
class Block:
    page: str          # path relative to the repository root
    line: int          # 1-based line of the first line of code (after the fence)
    lang: str          # "python", "js" or another language as written
    text: str
    skip: str | None   # the reason of a not-run marker ('' when it has none)

    @property
    def kind(self) -> str:
        """'doctest', 'script', 'js', 'console', 'file' or 'shown'."""
        if self.lang == "console":
            return "console"
        if self.lang not in ("python", "js"):
            return "shown"
        if self.file_name is not None:
            return "file"
        if self.lang == "python":
            return "doctest" if re.search(r"^\s*>>> ", self.text, re.M) else "script"
        return "js"

    @property
    def file_name(self) -> str | None:
        first = self.text.lstrip("\n").split("\n", 1)[0]
        m = FILE_LINE.get(self.lang, re.compile("(?!)")).match(first)
        return m.group("name") if m else None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[str]:
    """README.md and every docs/*.md, relative to the repository root."""
    docs = sorted(f for f in os.listdir(os.path.join(REPO_ROOT, "docs")) if f.endswith(".md"))
    return ["README.md"] + [f"docs/{f}" for f in docs]


def blocks(page: str) -> list[Block]:
    """The fenced code blocks of a page."""
    with open(os.path.join(REPO_ROOT, page), encoding="utf-8") as f:
        lines = f.read().split("\n")
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(```+)\s*([\w+-]*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group(1), m.group(2).lower()
        lang = "python" if lang in PYTHON_LANGS else "js" if lang in JS_LANGS else lang
        start = i + 1
        end = start
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        skip = None
        prev = i - 1
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        if prev >= 0:
            marker = NOT_RUN.match(lines[prev].strip())
            if marker:
                skip = marker.group("reason") or ""
        found.append(Block(page, start + 1, lang, "\n".join(lines[start:end]) + "\n", skip))
        i = end + 1
    return found


def write_files(page: str, directory: str) -> None:
    """Writes the file blocks of `page` into `directory`."""
    for block in blocks(page):
        if block.kind == "file" and block.skip is None:
            path = os.path.join(directory, block.file_name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(block.text)


def padded(block: Block) -> str:
    """The block's code, preceded by blank lines so that its line numbers are the page's."""
    return "\n" * (block.line - 1) + block.text


# ---- checking stated output ----

def _normalize(text: str) -> str:
    return " ".join(text.split())


def matches(expected: str, actual: str) -> bool:
    """True if the comment `expected` states `actual`, optionally followed by an explanation."""
    expected, actual = _normalize(expected), _normalize(actual)
    if expected == actual:
        return True
    return expected.startswith(actual) and expected[len(actual)] in ":;, "


def _python_comments(source: str) -> dict[int, str]:
    """Line -> text of the trailing comment on that line (comments after code only)."""
    comments: dict[int, str] = {}
    code_lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            if tok.start[0] in code_lines:
                comments[tok.start[0]] = tok.string[1:].strip()
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                              tokenize.ENDMARKER):
            for line in range(tok.start[0], tok.end[0] + 1):
                code_lines.add(line)
    return comments


class _Instrument(ast.NodeTransformer):
    """Wraps each expression statement whose last line has a trailing comment in
    __doc_value__(value, line), and marks print() calls of such lines."""

    def __init__(self, comments: dict[int, str]):
        self.comments = comments
        self.checked: dict[int, str] = {}   # line -> 'print' or 'value'

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        line = node.end_lineno
        if line not in self.comments:
            return node
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print":
            self.checked[line] = "print"
            call.func = ast.copy_location(ast.Name("__doc_print__", ast.Load()), call.func)
            call.args.insert(0, ast.Constant(line))
            return node
        self.checked[line] = "value"
        wrapped = ast.Call(ast.Name("__doc_value__", ast.Load()), [node.value, ast.Constant(line)], [])
        node.value = ast.copy_location(wrapped, node.value)
        ast.fix_missing_locations(node)
        return node


def run_script(path: str) -> int:
    """Runs the Python script at `path` as __main__ and checks its stated output."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    comments = _python_comments(source)
    instrument = _Instrument(comments)
    tree = ast.fix_missing_locations(instrument.visit(ast.parse(source, path)))
    code = compile(tree, path, "exec")
    seen: dict[int, list[str]] = {}

    def doc_print(line: int, *args, **kwargs):
        text = io.StringIO()
        builtins.print(*args, **{**kwargs, "file": text, "flush": False})
        seen.setdefault(line, []).append(text.getvalue())
        builtins.print(*args, **kwargs)

    def doc_value(value, line):
        seen.setdefault(line, []).append(None if value is None else repr(value))
        return value

    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins
    main.__doc_print__ = doc_print
    main.__doc_value__ = doc_value
    sys.modules["__main__"] = main
    sys.path.insert(0, os.path.dirname(path))
    sys.argv = [path]
    exec(code, main.__dict__)
    sys.stdout.flush()
    problems = []
    for line, how in sorted(instrument.checked.items()):
        expected = comments[line]
        outputs = seen.get(line)
        if outputs is None:
            problems.append(f"line {line}: never ran (the comment says {expected!r})")
            continue
        if how == "value" and all(o is None for o in outputs):
            continue
        actual = " ".join(o.rstrip("\n") for o in outputs if o is not None)
        if not matches(expected, actual):
            what = "printed" if how == "print" else "the value is"
            problems.append(f"line {line}: {what} {actual!r}, the comment says {expected!r}")
    if problems:
        print("\n".join(["stated output differs:"] + problems), file=sys.stderr)
        return 1
    return 0


# ---- JavaScript blocks ----

JS_LOG = re.compile(r"^(?P<code>.*console\.log\(.*?)\s+//\s(?P<expected>.*)$")


def run_js(path: str) -> int:
    """Runs the JavaScript script at `path` with pymport_py.eval and checks what its
    console.log lines print."""
    import pymport_py as node

    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    expected: dict[int, str] = {}
    for i, text in enumerate(lines):
        m = JS_LOG.match(text)
        if m:
            expected[i + 1] = m.group("expected").strip()
            lines[i] = m.group("code").replace("console.log(", f"__docLog({i + 1}, ") + \
                text[len(m.group("code")):]
    node.eval("""globalThis.__docLogs = [];
globalThis.__docLog = (line, ...args) => {
  __docLogs.push([line, require('util').format(...args)]);
  console.log(...args);
};""")
    value = node.eval("\n".join(lines))
    if node.eval("(v) => v instanceof Promise")(value):
        value.result(60)
    seen: dict[int, list[str]] = {}
    for line, text in node.eval("__docLogs").to_py():
        seen.setdefault(line, []).append(text)
    problems = []
    for line, text in sorted(expected.items()):
        if line not in seen:
            problems.append(f"line {line}: never ran (the comment says {text!r})")
        elif not matches(text, " ".join(seen[line])):
            problems.append(f"line {line}: printed {' '.join(seen[line])!r}, the comment says {text!r}")
    if problems:
        print("\n".join(["stated output differs:"] + problems), file=sys.stderr)
        return 1
    return 0


# ---- shell sessions ----

def run_console(path: str) -> int:
    """Runs the ``$ command`` lines of the shell session at `path` in its directory and
    compares what each prints with the lines after it."""
    import subprocess

    with open(path, encoding="utf-8") as f:
        lines = f.read().strip("\n").split("\n")
    shims = os.path.join(os.path.dirname(path), ".bin")
    os.makedirs(shims, exist_ok=True)
    for name in ("python", "python3"):
        shim = os.path.join(shims, name)
        if not os.path.exists(shim):
            # A script, not a symlink: a venv's python finds its pyvenv.cfg from the path
            # it was started by.
            with open(shim, "w") as f:
                f.write(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            os.chmod(shim, 0o755)
    env = dict(os.environ, PATH=shims + os.pathsep + os.environ.get("PATH", ""))
    sessions: list[tuple[int, str, list[str]]] = []
    for number, line in enumerate(lines, 1):
        if line.startswith("$ "):
            sessions.append((number, line[2:], []))
        elif sessions:
            sessions[-1][2].append(line)
    problems = []
    for number, command, expected in sessions:
        proc = subprocess.run(["bash", "-c", command], cwd=os.path.dirname(path), env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        want = "\n".join(expected) + "\n"
        checker = doctest.OutputChecker()
        if not checker.check_output(want, proc.stdout, doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE):
            problems.append(f"{command!r} printed {proc.stdout!r} (exit code {proc.returncode}, "
                            f"stderr {proc.stderr!r}), the session shows {expected!r}")
    if problems:
        print("\n".join(["stated output differs:"] + problems), file=sys.stderr)
        return 1
    return 0


# ---- doctest sessions ----

def run_doctests(page: str) -> int:
    """Runs the doctest blocks of `page` in order, sharing one namespace."""
    parser = doctest.DocTestParser()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(optionflags=flags)
    globs: dict = {"__name__": "__main__"}
    for block in blocks(page):
        if block.kind != "doctest" or block.skip is not None:
            continue
        test = parser.get_doctest(block.text, globs, f"{page}:{block.line}", page, block.line - 1)
        test.globs = globs     # get_doctest copies it: share one namespace across the blocks
        runner.run(test, clear_globs=False)
    result = runner.summarize(verbose=False)
    return 1 if result.failed else 0


def main(argv: list[str]) -> int:
    kind, target = argv
    if kind == "doctest":
        return run_doctests(target)
    if kind == "script":
        return run_script(target)
    if kind == "js":
        return run_js(target)
    if kind == "console":
        return run_console(target)
    raise SystemExit(f"unknown kind {kind!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
