"""Packaging: a wheel (and `pip install .`) built from a copy of the source tree installs and runs
with no checkout around, bundling libnode when it was built from a project-local prefix; the
version has a single source, pymport_py/_version.py.

The builds run in temporary copies of the tree, never in the checkout (others may be running
tests against its in-place build)."""
import fnmatch
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile

import pytest

import pymport_py
from pymport_py import _pymport

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SONAME = _pymport._libnode_soname  # the libnode the extension was built against
# Never copied into the build tree: build products, local prefixes, caches.
EXCLUDED_DIRS = {".git", "build", "dist", ".libnode", "node_modules", "__pycache__",
                 ".pytest_cache"}
EXCLUDED_FILES = ["*.so", "*.so.*", "*.py[cod]", "*.egg-info"]
TEXT_SUFFIXES = (".py", ".pyi", ".js", ".mjs", ".cjs", ".json", ".typed", ".toml", ".cfg",
                 ".txt", ".md", ".h", ".c", ".cc")
DEMO_LINES = [
    "path.join -> /usr/lib/node_modules",
    re.compile(r"Node v\d+\.\d+\.\d+ on linux \w+"),
    "Array.map with a Python lambda -> ['EMBEDDED', 'NODE', 'IN', 'PYTHON']",
    "JS wrote into a Python bytearray -> b'hello, python!'",
    "Python wrote into a JS Buffer -> And back again",
    "timer fired in the background: True",
    "Promise result -> 42",
    "console.log goes to Python sys.stdout",
]
# Prints what the installed package is, where it came from and which libnode it loaded.
INSPECT = r"""
import importlib.metadata, json, sys
import pymport_py
js_version = pymport_py.eval("String(require('pymport').version)")
maps = open("/proc/self/maps").read().splitlines()
print(json.dumps({
    "file": pymport_py.__file__,
    "version": pymport_py.__version__,
    "metadata_version": importlib.metadata.version("pymport_py"),
    "js_version": js_version,
    "libnode": sorted({line.split()[-1] for line in maps if "libnode" in line}),
    "path": sys.path,
}))
"""


def wheel_tags():
    """The python and ABI tags of a wheel for this interpreter: cp311-cp311, or cp314-cp314d for
    a debug interpreter."""
    abi = sysconfig.get_config_var("SOABI").split("-")[1]  # e.g. "311", "314d"
    return f"cp{sys.version_info[0]}{sys.version_info[1]}-cp{abi}"


def source_version():
    with open(os.path.join(REPO_ROOT, "pymport_py", "_version.py")) as f:
        match = re.fullmatch(r'__version__ = "([^"]+)"\n', f.read())
    assert match, "pymport_py/_version.py must hold only __version__ = \"...\""
    return match.group(1)


def excluded(relpath):
    parts = relpath.split("/")
    return (any(p in EXCLUDED_DIRS for p in parts[:-1])
            or any(fnmatch.fnmatch(parts[-1], pat) for pat in EXCLUDED_FILES))


def source_files():
    """The files of the source tree, relative to REPO_ROOT: git's view of it (tracked plus
    untracked but not ignored, as in the working tree) in a checkout, else a filtered walk."""
    try:
        out = subprocess.run(
            ["git", "-C", REPO_ROOT, "ls-files", "-z", "--cached", "--others",
             "--exclude-standard"], capture_output=True, check=True, timeout=60).stdout
        files = [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.SubprocessError):
        files = None
    if not files:
        files = []
        for root, dirs, names in os.walk(REPO_ROOT):
            dirs[:] = [d for d in dirs if d not in EXCLUDED_DIRS]
            rel = os.path.relpath(root, REPO_ROOT)
            files += [n if rel == "." else f"{rel}/{n}" for n in names]
    return sorted(f for f in files
                  if not excluded(f) and os.path.isfile(os.path.join(REPO_ROOT, f)))


def copy_source(dest):
    for rel in source_files():
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(REPO_ROOT, rel), target)
    return dest


def has_libnode(prefix):
    return (os.path.exists(os.path.join(prefix, "include", "node", "node.h"))
            and bool(glob.glob(os.path.join(prefix, "lib", "*", SONAME))
                     + glob.glob(os.path.join(prefix, "lib", SONAME))))


def libnode_choice():
    """(PYMPORT_LIBNODE for the build or None, whether the wheel bundles libnode): setup.py's
    order ($PYMPORT_LIBNODE, the system's /usr, the checkout's .libnode), made explicit because
    the copy has no .libnode."""
    explicit = os.environ.get("PYMPORT_LIBNODE")
    if explicit and has_libnode(explicit):
        return explicit, True
    if has_libnode("/usr"):
        return None, False
    local = os.path.join(REPO_ROOT, ".libnode")
    assert has_libnode(local), "no libnode to build against: run scripts/install-deps"
    return local, True


def clean_env(**extra):
    """The environment without anything that would make the checkout (or a sanitizer
    runtime, or a sanitized build) leak into the build or the installed package."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH",
                        "VIRTUAL_ENV", "LD_PRELOAD", "LD_LIBRARY_PATH", "ASAN_OPTIONS",
                        "UBSAN_OPTIONS", "PYMPORT_SANITIZE", "PYMPORT_LIBNODE")}
    env["PYTHONNOUSERSITE"] = "1"
    env.update(extra)
    return env


def run(cmd, *, timeout=120, **kwargs):
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert proc.returncode == 0, (
        f"{cmd} failed ({proc.returncode})\n--- stdout ---\n{proc.stdout[-4000:]}"
        f"\n--- stderr ---\n{proc.stderr[-4000:]}")
    return proc


def build_env():
    prefix, _ = libnode_choice()
    return clean_env(**({"PYMPORT_LIBNODE": prefix} if prefix else {}))


def check_demo(python, cwd, env):
    proc = run(python + ["-m", "pymport_py.demo"], cwd=cwd, env=env, timeout=60)
    lines = proc.stdout.splitlines()
    assert len(lines) == len(DEMO_LINES), proc.stdout
    for line, expected in zip(lines, DEMO_LINES):
        if isinstance(expected, str):
            assert line == expected
        else:
            assert expected.fullmatch(line), line


def check_installed(python, cwd, env, site):
    """The package that the command `python` (a list) imports is the one installed in `site`,
    with its own libnode when bundled, and one version in the metadata, Python and JS."""
    check_demo(python, cwd, env)
    info = json.loads(run(python + ["-c", INSPECT], cwd=cwd, env=env, timeout=60).stdout)
    package = os.path.join(site, "pymport_py")
    assert info["file"] == os.path.join(package, "__init__.py")
    assert not [p for p in info["path"]
                if p and os.path.realpath(p).startswith(os.path.realpath(REPO_ROOT) + os.sep)]
    version = source_version()
    assert info["version"] == info["metadata_version"] == info["js_version"] == version
    _, bundled = libnode_choice()
    if bundled:
        assert info["libnode"] == [os.path.join(package, SONAME)]
    else:
        assert len(info["libnode"]) == 1 and info["libnode"][0].startswith("/usr/")
        assert not os.path.exists(os.path.join(package, SONAME))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built with `python -m build --wheel --no-isolation` from a copy of the tree."""
    run([sys.executable, "-c", "import build, setuptools, wheel"], timeout=60)
    src = copy_source(str(tmp_path_factory.mktemp("wheel-src")))
    out = str(tmp_path_factory.mktemp("wheel-dist"))
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, src],
        cwd=src, env=build_env(), timeout=600)
    wheels = glob.glob(os.path.join(out, "*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_contents(wheel):
    version = source_version()
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert os.path.basename(wheel) == f"pymport_py-{version}-{wheel_tags()}-{platform}.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        package = {n for n in names if not n.startswith(f"pymport_py-{version}.dist-info/")}
        expected = {f for f in source_files() if f.startswith("pymport_py/")}
        assert "pymport_py/js/package.json" in expected and "pymport_py/py.typed" in expected
        assert len([f for f in expected if f.startswith("pymport_py/js/")]) >= 5
        extension = [n for n in package if re.fullmatch(r"pymport_py/_pymport\..*\.so", n)]
        assert len(extension) == 1, sorted(package)
        _, bundled = libnode_choice()
        assert package == expected | set(extension) | (
            {f"pymport_py/{SONAME}"} if bundled else set())
        if bundled:
            # The extension finds the bundled copy next to itself.
            assert b"$ORIGIN" in zf.read(extension[0])
        # The version is written in _version.py only (the metadata aside).
        for name in sorted(package):
            if name.endswith(TEXT_SUFFIXES) and name != "pymport_py/_version.py":
                assert version not in zf.read(name).decode(), name


def install_in_a_venv(wheel, tmp_path):
    """Installs `wheel` in a fresh venv under tmp_path. Returns (python, env, site, a directory
    away from the checkout to run it from)."""
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=120)
    python = str(venv / "bin" / "python")
    env = clean_env()
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-index", "--no-deps",
         "--disable-pip-version-check", "-q", wheel], env=env, timeout=300)
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
               env=env).stdout.strip()
    assert site.startswith(str(venv))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return python, env, site, str(elsewhere)


def test_wheel_installs_in_a_venv_and_runs_without_the_checkout(wheel, tmp_path):
    python, env, site, elsewhere = install_in_a_venv(wheel, tmp_path)
    check_installed([python], elsewhere, env, site)


def test_pip_install_from_a_copy_of_the_tree(tmp_path):
    """`pip install .` (not editable); --target keeps it out of this interpreter's site."""
    src = copy_source(str(tmp_path / "src"))
    target = str(tmp_path / "target")
    run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index",
         "--no-deps", "--disable-pip-version-check", "-q", "--target", target, "."],
        cwd=src, env=build_env(), timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # -S: nothing from this interpreter's site-packages (an editable install of the checkout).
    check_installed([sys.executable, "-S"], str(elsewhere), clean_env(PYTHONPATH=target), target)


def test_sdist_has_what_a_build_needs_and_no_binaries(tmp_path):
    src = copy_source(str(tmp_path / "src"))
    out = str(tmp_path / "dist")
    run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", out, src],
        cwd=src, env=build_env(), timeout=300)
    (sdist,) = glob.glob(os.path.join(out, "*.tar.gz"))
    top = f"pymport_py-{source_version()}/"
    with tarfile.open(sdist) as tf:
        names = {n[len(top):] for n in tf.getnames() if n.startswith(top)}
    needed = {f for f in source_files()
              if f.startswith(("csrc/", "pymport_py/")) or "/" not in f and f != ".gitignore"}
    assert needed <= names, sorted(needed - names)
    assert not [n for n in names if excluded(n) and not n.endswith(".egg-info")]


def test_version_has_a_single_source():
    version = source_version()
    assert pymport_py.__version__ == version
    assert pymport_py.eval("String(require('pymport').version)") == version
    with open(os.path.join(REPO_ROOT, "pymport_py", "js", "package.json")) as f:
        assert "version" not in json.load(f)
    # No package or build file but _version.py names the version.
    for rel in source_files():
        if (rel.startswith("pymport_py/") or "/" not in rel) and rel.endswith(TEXT_SUFFIXES) \
                and rel != "pymport_py/_version.py" and not rel.endswith(".md"):
            with open(os.path.join(REPO_ROOT, rel), encoding="utf-8") as f:
                assert version not in f.read(), rel


def test_repaired_wheel_carries_libnode_and_its_libraries(tmp_path):
    """scripts/build-wheel: the wheel that auditwheel repaired carries libnode and the shared
    libraries it needs, under a manylinux tag, and runs from a fresh venv with the libnode it
    carries (not the system's, nor the checkout's)."""
    proc = subprocess.run(
        ["bash", os.path.join(REPO_ROOT, "scripts", "build-wheel"), str(tmp_path / "wh")],
        env=clean_env(PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")),
        capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    glibc = tuple(int(x) for x in platform.libc_ver()[1].split("."))
    if proc.returncode == 3:
        # Refused only where glibc is newer than auditwheel's newest policy (Debian unstable).
        newest = re.search(r"manylinux_(\d+)_(\d+)_x86_64", proc.stderr)
        assert newest and glibc > (int(newest[1]), int(newest[2])), proc.stderr
        assert "build the wheel to distribute on an older release" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip().splitlines()[-1]
    version = source_version()
    assert re.fullmatch(rf"pymport_py-{re.escape(version)}-{wheel_tags()}-manylinux_2_(\d+)_x86_64"
                        r"\.whl", os.path.basename(out)), out
    with zipfile.ZipFile(out) as zf:
        carried = {n.split("/")[-1].split("-")[0] for n in zf.namelist()
                   if n.startswith("pymport_py.libs/")}
    assert {"libnode", "libuv", "libicuuc", "libssl", "libcares", "libnghttp2"} <= carried, carried
    python, env, site, elsewhere = install_in_a_venv(out, tmp_path)
    check_demo([python], elsewhere, env)
    info = json.loads(run([python, "-c", INSPECT], cwd=elsewhere, env=env).stdout)
    assert info["file"] == os.path.join(site, "pymport_py", "__init__.py")
    [loaded] = info["libnode"]
    assert loaded.startswith(os.path.join(site, "pymport_py.libs", "libnode-")), loaded
    # Native addons still resolve napi_* against it (it is global under its new name).
    check = "import ctypes, pymport_py; pymport_py.eval('1'); print(bool(ctypes.CDLL(None).napi_create_function))"
    assert run([python, "-c", check], cwd=elsewhere, env=env).stdout == "True\n"
