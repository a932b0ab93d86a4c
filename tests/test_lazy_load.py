"""`import pymport_py` loads no libnode: the extension (and with it libnode) loads on
first use (docs/scaling.md#cold-start). Each test runs a fresh interpreter, and
looks at /proc/self/maps, where a loaded libnode shows."""

import json
import textwrap

import pymport_py

# A fresh interpreter's view: is libnode mapped, is the extension imported.
STATE = """
import json, sys
def state():
    with open("/proc/self/maps") as f:
        mapped = any("libnode" in line for line in f)
    return {"libnode": mapped, "extension": "pymport_py._pymport" in sys.modules}
"""


def _states(run_python, code):
    """The states that `code` (with STATE's state() defined) printed, one a line."""
    proc = run_python(STATE + textwrap.dedent(code))
    assert proc.returncode == 0, proc.report
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_import_loads_no_libnode_until_first_use(run_python):
    states = _states(run_python, """
        import pymport_py
        print(json.dumps(state()))
        assert not pymport_py.running()
        names = dir(pymport_py)
        assert {"eval", "require", "JSError", "JSObject", "Worker", "JSFuture"} <= set(names)
        print(json.dumps(state()))
        assert pymport_py.eval("1 + 1") == 2
        print(json.dumps(state()))
    """)
    before, after_dir, after_eval = states
    assert before == {"libnode": False, "extension": False}
    assert after_dir == {"libnode": False, "extension": False}
    assert after_eval == {"libnode": True, "extension": True}


def test_names_that_need_the_extension_load_it(run_python):
    # Each name in its own interpreter: looking it up (from X import Y) loads the
    # extension, and the object is the extension's (or calls into it).
    names = ["JSError", "JSObject", "null", "ref", "eval", "require", "set_lock_wait_limit"]
    for name in names:
        states = _states(run_python, f"""
            from pymport_py import {name}
            import pymport_py, pymport_py._pymport as native
            print(json.dumps(state()))
            value = {name}
            assert value is getattr(pymport_py, {name!r})
            if hasattr(native, {name!r}):
                assert value is getattr(native, {name!r})
        """)
        assert states == [{"libnode": True, "extension": True}], name


def test_pure_python_parts_do_not_load_it(run_python):
    states = _states(run_python, """
        import pickle
        import pymport_py
        from pymport_py import Worker, running, shutdown, start, __version__
        assert not running()
        shutdown()                                  # no main environment: nothing to do
        assert isinstance(__version__, str)
        assert not isinstance(object(), Worker)
        assert pymport_py.JSFuture.__mro__[1].__name__ == "Future"  # pure Python
        print(json.dumps(state()))
    """)
    assert states == [{"libnode": False, "extension": False}]


def test_help_and_pickling_work_before_first_use(run_python):
    states = _states(run_python, """
        import pickle, pydoc
        import pymport_py
        text = pydoc.render_doc(pymport_py, renderer=pydoc.plaintext)
        assert "CommonJS ``require(id)``" in text and "class JSObject" in text, text
        assert not pymport_py.running()             # help() starts no Node
        # A JSError pickled by another process (a process pool's worker) unpickles here.
        error = pickle.loads(PICKLED)
        assert isinstance(error, pymport_py.JSTypeError) and error.name == "TypeError"
        assert pickle.loads(pickle.dumps(pymport_py.eval)) is pymport_py.eval
        print(json.dumps(state()))
    """.replace("PICKLED", repr(_pickled_js_error())))
    assert states == [{"libnode": True, "extension": True}]


def _pickled_js_error():
    import pickle
    try:
        pymport_py.eval("null.x")
    except pymport_py.JSTypeError as error:
        return pickle.dumps(error)
    raise AssertionError("no TypeError")


def test_threads_that_load_it_at_once_get_one_setup(run_python):
    # Eight threads look up lazily bound names at the same moment: the extension
    # loads once, every thread sees the same objects, and they all work.
    states = _states(run_python, """
        import threading
        import pymport_py
        barrier = threading.Barrier(8)
        seen, errors = [], []
        def use(i):
            try:
                barrier.wait(30)
                names = ["eval", "JSError", "JSObject", "null", "require", "ref", "to_js", "new"]
                found = {n: getattr(pymport_py, n) for n in names[i:] + names[:i]}
                got = tuple(found[n] for n in names)
                worker_eval = pymport_py.Worker.eval
                assert pymport_py.eval(f"{i} * 2") == i * 2
                seen.append(got + (worker_eval,))
            except BaseException as e:
                errors.append(repr(e))
        threads = [threading.Thread(target=use, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert len(seen) == 8 and len(set(seen)) == 1, seen
        with pymport_py.Worker() as w:
            assert w.eval("3") == 3
        print(json.dumps(state()))
    """)
    assert states == [{"libnode": True, "extension": True}]


def test_ctrl_c_reaches_js_when_another_thread_loaded_it(run_python):
    # The wakeup fd that lets Ctrl-C stop the main thread's JavaScript can only be
    # set from the main thread: when a thread loaded the extension, the main
    # thread's next use sets it.
    proc = run_python("""
        import _thread, signal, threading
        import pymport_py
        t = threading.Thread(target=lambda: pymport_py.eval("1"))
        t.start()
        t.join(60)
        assert pymport_py.running()
        assert signal.set_wakeup_fd(-1) == -1     # not yet: only the main thread can
        assert pymport_py.eval("2") == 2
        fd = signal.set_wakeup_fd(-1)              # set by that call
        assert fd != -1
        signal.set_wakeup_fd(fd)
        threading.Timer(0.2, _thread.interrupt_main).start()
        try:
            pymport_py.eval("while (true) {}")
        except KeyboardInterrupt:
            print("interrupted")
    """)
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "interrupted\n", proc.report
