"""Build of the extension module pymport_py._pymport against libnode.

libnode is found from $PYMPORT_LIBNODE (a prefix with include/node and lib),
then the system (Debian's libnode-dev), then the project-local prefix .libnode
that scripts/install-deps unpacks. A library from a prefix that is not the
system's is copied into the package and found through $ORIGIN, so an install
does not depend on the checkout staying where it is.

PYMPORT_SANITIZE=1 builds with AddressSanitizer and UBSan (see DEVELOPERS.md).
PYMPORT_SHIP_LIBNODE=0 never copies libnode into the package (scripts/build-wheel lets
auditwheel carry it instead).
"""
import glob
import os
import re
import shutil
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
# NODE_MODULE_VERSION -> Node major; the soname is libnode.so.<NODE_MODULE_VERSION>.
SUPPORTED = {108: 18, 115: 20, 127: 22, 137: 24}


def node_version(include):
    """(major, minor, patch, module_version) read from the headers' node_version.h."""
    with open(os.path.join(include, "node_version.h")) as f:
        text = f.read()
    defines = dict(re.findall(r"^#define (NODE_\w+) (\d+)\s*$", text, re.M))
    return tuple(int(defines[k]) for k in ("NODE_MAJOR_VERSION", "NODE_MINOR_VERSION",
                                            "NODE_PATCH_VERSION", "NODE_MODULE_VERSION"))


def find_libnode():
    """Returns (include_dir, lib_file, soname, version, is_system) or None."""
    candidates = []
    if os.environ.get("PYMPORT_LIBNODE"):
        candidates.append((os.environ["PYMPORT_LIBNODE"], False))
    candidates.append(("/usr", True))
    candidates.append((os.path.join(HERE, ".libnode"), False))
    for prefix, system in candidates:
        include = os.path.join(prefix, "include", "node")
        if not os.path.exists(os.path.join(include, "node.h")):
            continue
        version = node_version(include)
        soname = "libnode.so.%d" % version[3]
        libs = glob.glob(os.path.join(prefix, "lib", "*", soname)) + glob.glob(
            os.path.join(prefix, "lib", soname))
        if libs:
            return include, libs[0], soname, version, system
    return None


MISSING = (
    "pymport_py: cannot find libnode (include/node/node.h and the libnode.so.N its "
    "node_version.h names).\n"
    "Run scripts/install-deps (it installs Debian's libnode and libnode-dev, or unpacks them "
    "into .libnode when apt refuses), or set PYMPORT_LIBNODE to a prefix that has them.")
FOUND = find_libnode()
# Without libnode only the build of the extension fails (an sdist needs none).
INCLUDE, LIBNODE, SONAME, VERSION, SYSTEM = FOUND or (
    "/nonexistent", "/nonexistent/libnode.so", "libnode.so", (0, 0, 0, 0), True)
UNSUPPORTED = (
    "pymport_py: libnode %d.%d.%d (NODE_MODULE_VERSION %d) is not supported; supported: %s."
    % (VERSION + (", ".join("Node %d (%d)" % (m, v) for v, m in SUPPORTED.items()),)))
# V8 from Node 23 on needs C++20 (its headers use concepts and std::span).
CXX_STD = "-std=c++20" if VERSION[0] >= 23 else "-std=c++17"
SANITIZE = os.environ.get("PYMPORT_SANITIZE") == "1"
WARN = ["-Wall", "-Wextra"]
# vptr checks need RTTI that libnode does not export.
SAN = ["-fsanitize=address,undefined", "-fno-sanitize=vptr", "-fno-omit-frame-pointer",
       "-fno-sanitize-recover=undefined"] if SANITIZE else []
OPT = ["-O1", "-g"] if SANITIZE else ["-O2"]


class BuildExt(build_ext):
    """Compiles C as C11 and the embedder shim as the C++ its headers need, and ships libnode."""

    def run(self):
        if FOUND is None:
            sys.exit(MISSING)
        if VERSION[3] not in SUPPORTED:
            sys.exit(UNSUPPORTED)
        super().run()

    def build_extension(self, ext):
        original = self.compiler._compile

        def compile_one(obj, src, ext_, cc_args, extra_postargs, pp_opts):
            if src.endswith(".cc"):
                std = [CXX_STD]
            else:
                std = ["-std=c11", "-Werror=implicit-function-declaration"]
            return original(obj, src, ext_, cc_args, std + extra_postargs, pp_opts)

        self.compiler._compile = compile_one
        try:
            super().build_extension(ext)
        finally:
            self.compiler._compile = original
        self.ship_libnode(os.path.dirname(self.get_ext_fullpath(ext.name)))

    def copy_extensions_to_source(self):
        super().copy_extensions_to_source()
        build_py = self.get_finalized_command("build_py")
        self.ship_libnode(build_py.get_package_dir("pymport_py"))

    @staticmethod
    def ship_libnode(target_dir):
        if SYSTEM or os.environ.get("PYMPORT_SHIP_LIBNODE") == "0":
            return
        target = os.path.join(target_dir, SONAME)
        if not (os.path.exists(target) and os.path.samefile(target, LIBNODE)):
            os.makedirs(target_dir, exist_ok=True)
            shutil.copyfile(LIBNODE, target)


extension = Extension(
    "pymport_py._pymport",
    sources=sorted(glob.glob("csrc/*.c")) + ["csrc/embed.cc"],
    depends=sorted(glob.glob("csrc/*.h")),  # a changed header rebuilds every source
    # -isystem: Node's and V8's headers are not ours to keep warning-free.
    extra_compile_args=["-isystem", INCLUDE, "-DNAPI_VERSION=9"] + WARN + OPT + SAN
    + ["-fvisibility=hidden"],
    extra_link_args=SAN + ([] if SYSTEM else ["-Wl,-rpath,$ORIGIN"]),
    libraries=["stdc++", "uv"],
    library_dirs=[] if SYSTEM else [os.path.dirname(LIBNODE)],
    runtime_library_dirs=[],
)
# Link libnode by its soname (the unversioned libnode.so may be absent).
extension.extra_link_args.append("-l:" + SONAME)

setup(ext_modules=[extension], cmdclass={"build_ext": BuildExt})
