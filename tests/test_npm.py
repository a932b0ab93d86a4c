"""Real npm packages (tests/js/package.json, installed by `npm ci`) used from Python.

The main environment resolves `require` and `import_module` from the current
directory at call time: the npm_dir fixture makes it tests/js.
"""
import asyncio
import concurrent.futures
import json
import re
import threading
import urllib.error
import urllib.request

import pytest

import pymport_py as node

pytestmark = pytest.mark.usefixtures("npm_dir")


# --------------------------------------------------------------------------
# CommonJS: lodash, semver


def test_lodash():
    _ = node.require("lodash")
    assert _.chunk([1, 2, 3, 4, 5], 2).to_py() == [[1, 2], [3, 4], [5]]
    assert _.camelCase("Foo Bar-baz") == "fooBarBaz"
    people = [{"name": "ada", "age": 36}, {"name": "bob", "age": 25}, {"name": "cy", "age": 36}]
    assert _.groupBy(people, "age").to_py() == {
        "25": [{"name": "bob", "age": 25}],
        "36": [{"name": "ada", "age": 36}, {"name": "cy", "age": 36}],
    }
    # Python functions as iteratees (lodash passes value, index, collection)
    assert _.map([1, 2, 3], lambda v, *rest: v * 10).to_py() == [10, 20, 30]
    by_age_then_name = _.sortBy(people, [lambda p, *rest: -p.age, "name"])
    assert [p["name"] for p in by_age_then_name.to_py()] == ["ada", "cy", "bob"]
    assert _.get({"a": [{"b": {"c": 3}}]}, "a[0].b.c") == 3
    assert _.isEqual(node.to_js({"x": [1, 2]}), node.to_js({"x": [1, 2]})) is True


def test_semver():
    semver = node.require("semver")
    assert semver.satisfies("1.2.3", "^1.0.0") is True
    assert semver.satisfies("2.0.0", "^1.0.0") is False
    assert semver.maxSatisfying(["1.2.3", "1.4.0", "2.0.0"], "~1.2 || ^1.3") == "1.4.0"
    assert semver.inc("1.2.3", "minor") == "1.3.0"
    assert semver.sort(["1.10.0", "1.2.0", "1.9.9"]).to_py() == ["1.2.0", "1.9.9", "1.10.0"]
    v = semver.SemVer.new("1.2.3-beta.1")
    assert (v.major, v.minor, v.patch) == (1, 2, 3)
    assert v.prerelease.to_py() == ["beta", 1]
    # the embedded Node's version, as semver reads it
    major = int(node.eval("process.versions.node").split(".")[0])
    assert semver.satisfies(node.eval("process.version"), f">={major} <{major + 1}") is True
    assert semver.satisfies(node.eval("process.version"), ">=18") is True
    with pytest.raises(node.JSTypeError, match="Invalid Version: nope"):
        semver.SemVer.new("nope")


# --------------------------------------------------------------------------
# ESM-only packages: nanoid, chalk


def test_nanoid_is_esm_only():
    ns = node.import_module("nanoid")
    ids = {ns.nanoid() for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{21}", i) for i in ids)
    assert len(ns.nanoid(8)) == 8
    make = ns.customAlphabet("ab", 12)
    assert re.fullmatch(r"[ab]{12}", make())
    # require() of an ES module: from Node 20.19 on it gives the namespace, as in node;
    # Node 18 cannot.
    version = tuple(int(x) for x in node.eval("process.versions.node").split("."))
    if version >= (20, 19):
        assert len(node.require("nanoid").nanoid()) == 21
    else:
        with pytest.raises(node.JSError) as info:
            node.require("nanoid")
        assert info.value.value.code == "ERR_REQUIRE_ESM"
        # the message says what works instead
        assert "pymport_py.import_module('nanoid')" in str(info.value)


def test_chalk():
    chalk = node.import_module("chalk")
    c = chalk.Chalk.new(level=1)  # keyword arguments: the options object
    assert c.red.bold("hi") == "\x1b[31m\x1b[1mhi\x1b[22m\x1b[39m"
    assert c.bgBlue("x") == "\x1b[44mx\x1b[49m"
    assert chalk.Chalk.new(level=0).red("plain") == "plain"


# --------------------------------------------------------------------------
# typescript


def test_typescript_transpile_module():
    ts = node.require("typescript")
    assert ts.version.startswith("5.")
    source = (
        "enum Color { Red, Green }\n"
        "export function paint(c: Color, n: number = 1): string {\n"
        "  return `${Color[c]} x${n}`;\n"
        "}\n"
    )
    out = ts.transpileModule(source, compilerOptions={
        "module": ts.ModuleKind.CommonJS, "target": ts.ScriptTarget.ES2020})
    assert out.outputText == (
        '"use strict";\n'
        'Object.defineProperty(exports, "__esModule", { value: true });\n'
        "exports.paint = paint;\n"
        "var Color;\n"
        "(function (Color) {\n"
        '    Color[Color["Red"] = 0] = "Red";\n'
        '    Color[Color["Green"] = 1] = "Green";\n'
        "})(Color || (Color = {}));\n"
        "function paint(c, n = 1) {\n"
        "    return `${Color[c]} x${n}`;\n"
        "}\n"
    )
    # the output runs
    run = node.eval("(code) => { const exports = {}; new Function('exports', code)(exports); return exports }")
    assert run(out.outputText).paint(1, 3) == "Green x3"


def test_typescript_diagnostics():
    ts = node.require("typescript")
    out = ts.transpileModule("let x: = ;", reportDiagnostics=True)
    diagnostics = out.diagnostics
    assert diagnostics.length >= 1
    assert diagnostics[0].code == 1110
    assert diagnostics[0].messageText == "Type expected."


# --------------------------------------------------------------------------
# prettier: Promises awaited from asyncio


def test_prettier_format_awaited_in_asyncio():
    prettier = node.import_module("prettier")

    async def main():
        js, typescript = await asyncio.gather(
            prettier.format("const a={b:1,c:[1,2,3]}", parser="babel"),
            prettier.format("function f(x:number):string{return String(x)}",
                            parser="typescript", semi=False),
        )
        ok = await prettier.check("const a = { b: 1 };\n", parser="babel")
        with pytest.raises(node.JSSyntaxError) as info:
            await prettier.format("const = ;", parser="babel")
        return js, typescript, ok, info.value

    js, typescript, ok, error = asyncio.run(main())
    assert js == "const a = { b: 1, c: [1, 2, 3] };\n"
    assert typescript == "function f(x: number): string {\n  return String(x)\n}\n"
    assert ok is True
    assert error.message.startswith("Unexpected token (1:7)")
    assert error.value.loc.start.to_py() == {"line": 1, "column": 7}


def test_prettier_format_result_from_python_threads():
    prettier = node.import_module("prettier")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(
            lambda i: prettier.format(f"let v{i}={i}", parser="babel").result(30), range(8)))
    assert outs == [f"let v{i} = {i};\n" for i in range(8)]


# --------------------------------------------------------------------------
# express: an HTTP server on Node's loop thread, queried from Python


@pytest.fixture
def app():
    express = node.require("express")
    app = express()
    app.set("env", "test")  # finalhandler: no error logging to stderr
    return app


@pytest.fixture
def serve():
    servers = []

    def serve(app):
        listening = threading.Event()
        server = app.listen(0, "127.0.0.1", lambda *args: listening.set())
        assert listening.wait(10)
        servers.append(server)
        return f"http://127.0.0.1:{server.address().port}"

    yield serve
    for server in servers:
        closed = threading.Event()
        server.closeAllConnections()
        server.close(lambda *args: closed.set())
        assert closed.wait(10)
        assert server.listening is False


def get(url, data=None):
    headers = {"content-type": "application/json"} if data is not None else {}
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.headers["content-type"], r.read().decode()
    except urllib.error.HTTPError as e:
        with e:  # an HTTPError holds the response open (3.14 warns when it is not closed)
            return e.code, e.headers["content-type"], e.read().decode()


def test_express_with_a_javascript_handler(app, serve):
    app.get("/hello/:name", node.eval(
        "(req, res) => res.json({ hello: req.params.name, query: req.query })"))
    url = serve(app)
    status, ctype, body = get(f"{url}/hello/ada?x=1&y=two")
    assert status == 200
    assert ctype == "application/json; charset=utf-8"
    assert json.loads(body) == {"hello": "ada", "query": {"x": "1", "y": "two"}}
    assert get(f"{url}/nope")[0] == 404


def test_express_with_python_handlers(app, serve):
    express = node.require("express")
    seen = []

    def hello(req, res, next):  # Express passes (req, res, next)
        seen.append(threading.current_thread() is threading.main_thread())
        res.status(201).type("text/plain").send(f"python greets {req.params.name}")

    def total(req, res, next):
        numbers = req.body.numbers.to_py()
        res.json({"sum": sum(numbers), "count": len(numbers)})

    def fails(req, res, next):
        1 / 0

    app.use(express.json())
    app.get("/py/:name", hello)
    app.post("/sum", total)
    app.get("/fails", fails)
    url = serve(app)

    assert get(f"{url}/py/bob") == (201, "text/plain; charset=utf-8", "python greets bob")
    assert seen == [False]  # the handler ran on Node's loop thread
    status, _, body = get(f"{url}/sum", {"numbers": [1, 2, 3.5]})
    assert (status, json.loads(body)) == (200, {"sum": 6.5, "count": 3})
    # a Python exception in a handler becomes Express's 500 error response
    status, _, body = get(f"{url}/fails")
    assert status == 500 and "ZeroDivisionError" in body


def test_express_python_handler_under_concurrent_requests(app, serve):
    counter = {"n": 0}

    def count(req, res, next):
        counter["n"] += 1
        res.send(str(int(req.query.i) * 2))

    app.get("/count", count)
    url = serve(app)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: get(f"{url}/count?i={i}"), range(24)))
    assert [r[2] for r in results] == [str(2 * i) for i in range(24)]
    assert counter["n"] == 24
