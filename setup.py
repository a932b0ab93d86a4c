"""Build of the extension module pymport_py._pymport against libnode.

libnode is found from $PYMPORT_LIBNODE (a prefix with include/node and lib),
then the system (Debian's libnode-dev), then the project-local prefix .libnode
that scripts/install-deps unpacks. A library from a prefix that is not the
system's is copied into the package and found through $ORIGIN, so an install
does not depend on the checkout staying where it is.

PYMPORT_SANITIZE=1 builds with AddressSanitizer and UBSan (see DEVELOPERS.md).
"""
import glob
import os
import shutil
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
SONAME = "libnode.so.108"


def find_libnode():
    """Returns (include_dir, lib_file, is_system)."""
    candidates = []
    if os.environ.get("PYMPORT_LIBNODE"):
        candidates.append((os.environ["PYMPORT_LIBNODE"], False))
    candidates.append(("/usr", True))
    candidates.append((os.path.join(HERE, ".libnode"), False))
    for prefix, system in candidates:
        include = os.path.join(prefix, "include", "node")
        libs = glob.glob(os.path.join(prefix, "lib", "*", SONAME)) + glob.glob(
            os.path.join(prefix, "lib", SONAME))
        if os.path.exists(os.path.join(include, "node.h")) and libs:
            return include, libs[0], system
    return None


MISSING = (
    "pymport_py: cannot find libnode (%s and include/node/node.h).\n"
    "Run scripts/install-deps (it installs Debian's libnode108/libnode-dev, or unpacks them "
    "into .libnode when apt refuses), or set PYMPORT_LIBNODE to a prefix that has them."
    % SONAME)
FOUND = find_libnode()
# Without libnode only the build of the extension fails (an sdist needs none).
INCLUDE, LIBNODE, SYSTEM = FOUND or ("/nonexistent", "/nonexistent/" + SONAME, True)
SANITIZE = os.environ.get("PYMPORT_SANITIZE") == "1"
WARN = ["-Wall", "-Wextra"]
# vptr checks need RTTI that libnode does not export.
SAN = ["-fsanitize=address,undefined", "-fno-sanitize=vptr", "-fno-omit-frame-pointer",
       "-fno-sanitize-recover=undefined"] if SANITIZE else []
OPT = ["-O1", "-g"] if SANITIZE else ["-O2"]


class BuildExt(build_ext):
    """Compiles C as C11 and the embedder shim as C++17, and ships libnode."""

    def run(self):
        if FOUND is None:
            sys.exit(MISSING)
        super().run()

    def build_extension(self, ext):
        original = self.compiler._compile

        def compile_one(obj, src, ext_, cc_args, extra_postargs, pp_opts):
            if src.endswith(".cc"):
                std = ["-std=c++17"]
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
        if SYSTEM:
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
