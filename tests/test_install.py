"""The build: libnode global for addons, and an install that does not need the checkout."""
import ctypes
import os
import shutil
import subprocess
import sys
import textwrap

import pymport_py
from pymport_py import _pymport


def test_libnode_symbols_are_global_for_native_addons():
    pymport_py.eval("1")
    # dlsym(RTLD_DEFAULT): what a native addon loaded later would resolve against.
    process = ctypes.CDLL(None)
    assert process.napi_create_function
    assert process.napi_module_register


def test_package_copied_elsewhere_runs_with_its_own_libnode(tmp_path):
    package = os.path.dirname(pymport_py.__file__)
    soname = _pymport._libnode_soname
    if not os.path.exists(os.path.join(package, soname)):
        # Built against the system libnode: nothing is shipped, nothing to relocate.
        assert os.path.exists(f"/usr/lib/x86_64-linux-gnu/{soname}")
        return
    target = tmp_path / "site"
    shutil.copytree(package, target / "pymport_py",
                    ignore=shutil.ignore_patterns("__pycache__"))
    code = textwrap.dedent("""
        import pymport_py
        print(pymport_py.__file__)
        print(pymport_py.require("path").basename("/x/y.txt"))
        maps = open("/proc/self/maps").read()
        print(sorted({line.split()[-1] for line in maps.splitlines() if "libnode" in line}))
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(target)
    proc = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(str(target))
    assert lines[1] == "y.txt"
    assert lines[2] == str([str(target / "pymport_py" / soname)])


def test_an_unbuilt_checkout_says_to_build(tmp_path):
    # The Python layer without its extension (a fresh checkout), then with the
    # extension but without the libnode it was built against. `import pymport_py`
    # loads no extension (docs/scaling.md#cold-start): the first use says it.
    package = os.path.dirname(pymport_py.__file__)
    target = tmp_path / "checkout" / "pymport_py"
    shutil.copytree(package, target, ignore=shutil.ignore_patterns(
        "__pycache__", "*.so", "libnode.so*"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(target.parent)

    def import_it():
        code = "import pymport_py; print('imported', flush=True); pymport_py.eval('1')"
        return subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    proc = import_it()
    assert proc.returncode != 0
    assert proc.stdout == "imported\n", proc.stdout
    assert "ImportError: pymport_py's extension could not be loaded" in proc.stderr, proc.stderr
    assert "pip install --no-build-isolation -e ." in proc.stderr, proc.stderr
    if os.path.exists(f"/usr/lib/x86_64-linux-gnu/{_pymport._libnode_soname}"):
        return  # the system's libnode would be found
    shutil.copy(_pymport.__file__, target)
    proc = import_it()
    assert proc.returncode != 0
    assert _pymport._libnode_soname in proc.stderr, proc.stderr
    assert "pip install --no-build-isolation -e ." in proc.stderr, proc.stderr


# Data, not functions: what the public Py_None, Py_True, Py_False, Py_NotImplemented and
# Py_Ellipsis name.
PUBLIC_MACRO_SYMBOLS = {"_Py_NoneStruct", "_Py_TrueStruct", "_Py_FalseStruct",
                        "_Py_NotImplementedStruct", "_Py_EllipsisObject"}
if hasattr(sys, "gettotalrefcount"):
    # A debug interpreter (Py_REF_DEBUG): its Py_INCREF counts references in these.
    PUBLIC_MACRO_SYMBOLS |= {"_Py_INCREF_IncRefTotal", "_Py_DECREF_DecRefTotal",
                             "_Py_NegativeRefcount"}


def test_the_extension_calls_no_private_cpython_function():
    proc = subprocess.run(["nm", "-D", "--undefined-only", _pymport.__file__],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    undefined = {line.split()[-1] for line in proc.stdout.splitlines() if line.strip()}
    assert "PyObject_GetAttr" in undefined  # the listing is real
    private = {s for s in undefined if s.startswith("_Py")}
    assert private <= PUBLIC_MACRO_SYMBOLS, sorted(private - PUBLIC_MACRO_SYMBOLS)
