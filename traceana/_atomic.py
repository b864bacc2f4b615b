"""Atomic output files: write to a temporary name in the same directory, fsync, rename.

A reader (or a CI job picking up ``report.json``) sees the old file or the
complete new one, never a partial one; on a full disk or a read-only directory
nothing is left behind and the error names the path (:class:`OutputError`, exit 4).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from traceana.errors import OutputError


def _cannot(path: Path, exc: OSError) -> OutputError:
    return OutputError(
        str(path), f"cannot write: {exc.strerror or exc}. Hint: check free space and permissions"
    )


@contextlib.contextmanager
def atomic_path(dest: str | Path, make_parents: bool = True) -> Iterator[Path]:
    """A temporary path beside ``dest`` to write to; renamed onto ``dest`` when the block succeeds."""
    dest = Path(dest)
    tmp = None
    try:
        if make_parents:
            dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)
        tmp = None
    except OSError as exc:
        raise _cannot(dest, exc) from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def write_text(dest: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(dest)


def write_bytes(dest: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return Path(dest)
