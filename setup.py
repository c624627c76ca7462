"""Builds the optional C helpers of the state tree (``ledger/statetree/_native.c``).

Everything else is in pyproject.toml.  The extension is optional: without a C
compiler (or Python's headers) the build goes on without it and the tree runs
its pure-Python code (``ledger.statetree.tree.NATIVE`` says which).  sha256
comes from OpenSSL's libcrypto when its header is found, else from the small
implementation bundled in the C file.
"""
import os
import sysconfig

from setuptools import Extension, setup


def _openssl() -> bool:
    dirs = [sysconfig.get_paths()["include"], "/usr/include", "/usr/local/include"]
    return os.environ.get("SETTLE_BUNDLED_SHA256") != "1" and any(
        os.path.exists(os.path.join(d, "openssl", "sha.h")) for d in dirs)


_ssl = _openssl()
setup(ext_modules=[Extension(
    "ledger.statetree._native",
    sources=["ledger/statetree/_native.c"],
    define_macros=[("SETTLE_OPENSSL", "1")] if _ssl else [],
    libraries=["crypto"] if _ssl else [],
    extra_compile_args=["-O2"],
    optional=True,
)])
