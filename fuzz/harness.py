"""Running one fuzz target under atheris: corpus set-up, instrumentation, libFuzzer flags.

Owns: :func:`instrumented` (the import scope whose modules get coverage
feedback: Settle's own packages, never the libraries) and :func:`main`
(write the generated seeds into the corpus directory, hand ``sys.argv`` to
libFuzzer, fuzz).  Must never import a Settle module at import time: a module
imported before :func:`instrumented` is entered gives no coverage.
"""
from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import atheris

INSTRUMENTED = ["ledger", "settlement", "consensus", "node"]


@contextlib.contextmanager
def instrumented():
    """``with instrumented(): import ...``: coverage for Settle's packages only.

    The record decoders and encoders that ``ledger.recordgen`` generates at
    run time (one per record class, built on first use) are instrumented as
    they are built: without that the fuzzer is blind inside every typed
    decode.
    """
    with atheris.instrument_imports(include=INSTRUMENTED):
        from ledger import recordgen

        _instrument_generated(recordgen)
        yield


def _instrument_generated(recordgen) -> None:
    compile_from_obj, compile_plain = recordgen.compile_from_obj, recordgen.compile_plain

    def generated(fn):  # exec-built; the generic fallbacks were instrumented at import
        return atheris.instrument_func(fn) if fn.__code__.co_filename == "<string>" else fn

    def from_obj(cls, *args):
        return classmethod(generated(compile_from_obj(cls, *args).__func__))

    def plain(cls, *args):
        return generated(compile_plain(cls, *args))

    recordgen.compile_from_obj, recordgen.compile_plain = from_obj, plain


def main(name: str, test_one_input: Callable[[bytes], None], seeds: Callable[[], Iterable[bytes]]) -> None:
    """Fuzz ``test_one_input`` with libFuzzer flags from ``sys.argv``.

    The first positional argument is the corpus directory (libFuzzer adds
    the inputs that reach new coverage to it); without one a temporary
    directory is used.  The generated seeds are written into it first.
    Given files instead (``crash-*``), libFuzzer runs each once: the way
    to reproduce a crash.
    """
    from .seeds import write_corpus

    argv = list(sys.argv)
    dirs = [a for a in argv[1:] if not a.startswith("-")]
    if not dirs:
        dirs = [tempfile.mkdtemp(prefix=f"settle-fuzz-{name}-")]
        argv.append(dirs[0])
    if not Path(dirs[0]).is_file():
        n = write_corpus(Path(dirs[0]), seeds())
        print(f"fuzz {name}: {n} seeds in {dirs[0]}", file=sys.stderr, flush=True)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
