"""Finding input files and reading them safely: decompression (gzip, zstd, bzip2, xz), size limits, identity.

A file is refused whole (TraceParseError, one clear message) when it is not a
regular file, its compression is corrupt or truncated, or it decompresses past
the limit (a gzip bomb). Row-level problems are the adapters' and validation's.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path

from traceana.errors import InputLimitError, TraceParseError
from traceana.ingest.base import Limits, Source

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 20
HEAD_BYTES = 1 << 20  # read up front from a plain file: detection and sniffing look no further


def origins(paths: list[str | Path]) -> dict[Path, str]:
    """Each file's origin (see :attr:`traceana.ingest.base.Source.origin`): relative to the directory named.

    A file named directly is its own origin (its name); a file found under a
    named directory ``D`` is ``relative_to(D)`` with '/' separators.
    """
    out: dict[Path, str] = {}
    for raw in paths:
        p = Path(raw)
        found = expand_paths([p])
        for f in found:
            out.setdefault(f, f.relative_to(p).as_posix() if f != p else f.name)
    return out


def expand_paths(paths: list[str | Path]) -> list[Path]:
    """Files named directly, and the regular files below named directories (sorted, no hidden files).

    Symlinked directories are not followed (a symlink loop cannot hang the walk).
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not os.path.lexists(p):
            raise TraceParseError(str(p), "no such file or directory")
        if p.is_dir() and not p.is_symlink():
            before = len(out)
            for root, dirs, files in os.walk(p, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and not name.endswith((".md", ".toml", ".yaml", ".yml")):
                        out.append(Path(root) / name)
            if len(out) == before:
                raise TraceParseError(
                    str(p),
                    "no input files found in this directory (hidden files and .md/.toml/.yaml are skipped)",
                )
        else:
            out.append(p)
    return out


def _check_regular(path: Path) -> os.stat_result:
    try:
        st = os.stat(path)  # follows symlinks; a loop raises ELOOP
    except OSError as exc:
        raise TraceParseError(str(path), f"cannot open: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise TraceParseError(str(path), "is a directory (a symlinked directory is not walked)")
    if not stat.S_ISREG(st.st_mode):
        raise TraceParseError(str(path), "not a regular file (FIFO, socket or device): refused")
    return st


def file_identity(path: Path) -> str:
    """sha256 of the file's bytes as stored: the source identity used to skip re-ingests."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK * 4):
            h.update(chunk)
    return h.hexdigest()


_ZSTD_IN = 1 << 10  # zstd output per call is unbounded: feed small inputs (<= ~32 MiB out each, RLE blocks)


def _decompress_stream(path: Path, raw, decomp, limit: int, kind: str) -> bytes:
    out = bytearray()
    while True:
        chunk = raw.read(_ZSTD_IN)
        if not chunk:
            break
        try:
            piece = decomp(chunk)
        except Exception as exc:
            raise TraceParseError(str(path), f"corrupt {kind} data: {exc}") from None
        out += piece
        if len(out) > limit:
            raise _too_big(path, limit)
    return bytes(out)


def _too_big(path: Path, limit: int) -> InputLimitError:
    return InputLimitError(
        str(path),
        f"decompresses past the limit of {limit:,} bytes (a compression bomb?). Hint: raise it with --max-decompressed-bytes",
    )


def _gunzip(path: Path, limit: int) -> bytes:
    """Decode every gzip member, stopping as soon as the output passes ``limit``."""
    with open(path, "rb") as f:
        buf = f.read()
    out = bytearray()
    while buf:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        chunk = buf
        while True:
            try:
                piece = d.decompress(chunk, _CHUNK)  # bounded output per call
            except zlib.error as exc:
                raise TraceParseError(str(path), f"corrupt gzip data: {exc}") from None
            out += piece
            if len(out) > limit:
                raise _too_big(path, limit)
            chunk = d.unconsumed_tail
            if d.eof or (not chunk and not piece):
                break
        if not d.eof:
            raise TraceParseError(str(path), "truncated gzip file (cut before the end of the stream)")
        buf = d.unused_data  # concatenated members are valid gzip
        if not buf.strip(b"\x00"):
            break
    return bytes(out)


BZ2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"


def _bounded(path: Path, make, limit: int, kind: str) -> bytes:
    """bz2 / xz: every stream of the file, output bounded per call, stopping past ``limit``."""
    import lzma

    with open(path, "rb") as f:
        buf = f.read()
    out = bytearray()
    while buf:
        d = make()
        chunk = buf
        while not d.eof:
            try:
                piece = d.decompress(chunk, _CHUNK)
            except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
                raise TraceParseError(str(path), f"corrupt {kind} data: {exc}") from None
            out += piece
            if len(out) > limit:
                raise _too_big(path, limit)
            chunk = b""
            if d.needs_input and not d.eof:
                raise TraceParseError(str(path), f"truncated {kind} file (cut before the end of the stream)")
        buf = d.unused_data
        if not buf.strip(b"\x00"):
            break
    return bytes(out)


def read_source(path: Path, limits: Limits, scan=None) -> Source:
    """Read ``path`` (decompressing gzip / zstd by magic bytes) into a Source.

    A plain file is not read whole here: its Source reads it on first use, so a
    reader that opens the path itself (DuckDB) never copies it into Python.
    ``scan`` is the future of :func:`scan_file` on this path, if one was started.
    """
    st = _check_regular(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] == GZIP_MAGIC:
        data = _gunzip(path, limits.max_decompressed_bytes)
    elif magic == ZSTD_MAGIC:
        import zstandard

        with open(path, "rb") as f:
            d = zstandard.ZstdDecompressor().decompressobj()
            data = _decompress_stream(path, f, d.decompress, limits.max_decompressed_bytes, "zstd")
            if not d.eof:
                raise TraceParseError(str(path), "truncated zstd file (cut before the end of the frame)")
    elif magic[:3] == BZ2_MAGIC and len(magic) == 4 and magic[3:4].isdigit():
        import bz2

        data = _bounded(path, bz2.BZ2Decompressor, limits.max_decompressed_bytes, "bzip2")
    elif magic == XZ_MAGIC[:4]:
        import lzma

        data = _bounded(path, lzma.LZMADecompressor, limits.max_decompressed_bytes, "xz")
    else:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
        if head.strip() and not head.startswith(b"\xef\xbb\xbf"):
            return Source(path, None, limits, size=max(st.st_size, len(head)), head=head, scan=scan)
        with open(path, "rb") as f:
            data = f.read()  # a BOM, or white space only so far: the whole file decides
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 BOM is not content
    if not data.strip():
        raise TraceParseError(
            str(path), "empty file (nothing but white space after decompression): nothing to ingest"
        )
    return Source(path=path, data=data, limits=limits, scan=scan)


def read_head(source: Source, n: int = 64 << 10) -> bytes:
    return source.head(n)


@dataclass(frozen=True)
class FileScan:
    """One pass over a file's bytes as stored: its identity, plus what the JSON Lines fast path must know.

    ``newlines`` and ``bool_literal`` are None when they were not computed (a
    compressed file, or not asked for).
    """

    identity: str | None
    size: int
    newlines: int | None = None
    ends_with_newline: bool = True
    bool_literal: bool | None = None  # 'true' or 'false' occurs where it may be a canonical field's value


_RU = int.from_bytes(b"ru", "little")
_LS = int.from_bytes(b"ls", "little")
#: the longest key whose 'true' / 'false' value can be told harmless (a longer one counts as if it mattered)
_KEY_WINDOW = 48
#: bytes of the previous chunk kept in front: a literal, and the key before it, across a chunk boundary
_CARRY = _KEY_WINDOW + 8
_KEY_CHAR = [chr(c).isascii() and (chr(c).isalnum() or chr(c) in "_.-") for c in range(256)]
_WORD_CHAR = [chr(c).isascii() and (chr(c).isalnum() or chr(c) == "_") for c in range(256)]
_SPACE = (ord(" "), ord("\t"), ord("\r"), ord("\n"))


def _literal_starts(a, first: int = 0):
    """Positions (sorted) where the words 'true' or 'false' start in ``a`` and end after ``first``.

    One 16-bit compare per byte pair finds the rare bigrams 'ru' and 'ls'
    (numpy, outside the GIL: ~4x faster than two bytes.find); only their few
    positions are looked at closely.
    """
    import numpy as np

    n = len(a)
    found = []
    for k in (0, 1):
        v = a[k : k + (n - k) // 2 * 2].view("<u2")
        for code, before, after in ((_RU, b"t", b"e"), (_LS, b"fa", b"e")):
            hits = np.flatnonzero(v == code)
            if len(hits) == 0:
                continue
            p = hits * 2 + k  # position of the bigram's first byte
            ok = (p >= len(before)) & (p + 2 < n) & (p + 3 > first)
            p = p[ok]
            m = a[p + 2] == after[0]
            for j, ch in enumerate(reversed(before), start=1):
                m &= a[p - j] == ch
            found.append(p[m] - len(before))
    return np.sort(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)


def _skip_space_back(a, j):
    """``j`` moved back past up to four JSON white-space bytes (each stops at the first other byte)."""
    import numpy as np

    for _ in range(4):
        j = j - ((j >= 0) & np.isin(a[np.maximum(j, 0)], _SPACE))
    return j


def _harmless(a, starts):
    """Which 'true' / 'false' words at ``starts`` cannot be the value of a field traceana reads.

    A JSON literal stands alone, after ``:`` (a member's value), ``,`` or ``[``
    (an array element), white space aside. So a word glued to a letter or
    digit, or after any other byte (``?stream=true``, ``it is true``), is text
    inside a string: harmless. After ``:`` it is harmless when the key before
    it is 1-48 of [A-Za-z0-9_.-], has ``{``, ``,`` or white space before its
    opening quote, and is no canonical column: DuckDB reads only the canonical
    keys, matched exactly (or, again, the bytes are inside a string). The rest
    counts: array elements, escapes in a key, a key cut off by the start of
    ``a``, a word at the very start.
    """
    import numpy as np

    from traceana.schema import TABLES

    n = len(a)
    word = np.where(a[starts] == ord("t"), 4, 5)
    after = starts + word
    glued = (after < n) & np.asarray(_WORD_CHAR)[a[np.minimum(after, n - 1)]]
    glued |= (starts >= 1) & np.asarray(_WORD_CHAR)[a[np.maximum(starts - 1, 0)]]
    j = _skip_space_back(a, starts - 1)
    c = a[np.maximum(j, 0)]
    # where a literal may stand (still white space after four: it counts; so does the start of ``a``)
    value = np.isin(c, (ord(":"), ord(","), ord("["), *_SPACE)) | (j < 0)
    ok = glued | ~value  # not a literal at all
    member = ~ok & (c == ord(":"))
    j = _skip_space_back(a, j - 1)
    key_ok = member & (j >= 1) & (a[np.maximum(j, 0)] == ord('"'))  # the key's closing quote
    back = j[:, None] - np.arange(1, _KEY_WINDOW + 2)  # j-1, j-2, ... : the key, read backwards
    win = a[np.maximum(back, 0)]
    quote = (win == ord('"')) & (back >= 0)
    key_ok &= quote.any(axis=1)
    length = quote.argmax(axis=1)  # bytes between the quotes
    inside = np.arange(_KEY_WINDOW + 1)[None, :] < length[:, None]
    key_ok &= (length >= 1) & (np.asarray(_KEY_CHAR)[win] | ~inside).all(axis=1)
    opening = j - length - 1
    key_ok &= (opening >= 1) & np.isin(a[np.maximum(opening - 1, 0)], (ord("{"), ord(","), *_SPACE))
    if key_ok.any():
        keys = np.where(inside, win, 0)[:, ::-1]  # back into reading order, right-aligned
        width = _KEY_WINDOW + 1
        names = {f.name.encode() for fs in TABLES.values() for f in fs}
        canonical = np.array([k.rjust(width, b"\0") for k in names], dtype=f"S{width}")
        key_ok &= ~np.isin(np.ascontiguousarray(keys).view(f"S{width}").ravel(), canonical)
    return ok | key_ok


def _has_bool_literal(a, first: int = 0) -> bool:
    """True when 'true' or 'false' occurs in ``a`` (uint8 array), ending after ``first``, where it may be a field's value.

    DuckDB turns a JSON boolean into 1.0 or 'true' without a word, so a file
    where one may stand as a canonical field's value takes the exact path;
    literals that plainly cannot (see :func:`_harmless`) are skipped.
    """
    starts = _literal_starts(a, first)
    return bool(len(starts)) and not bool(_harmless(a, starts).all())


def scan_file(path: Path, digest: bool = True, lines: bool = True) -> FileScan:
    """sha256 of the file (``digest``) and, for a plain (uncompressed) file, newline count and 'true'/'false'.

    Runs in a worker thread beside the parse: file reads, hashlib and numpy all
    release the GIL.
    """
    import numpy as np

    h = hashlib.sha256() if digest else None
    size = newlines = 0
    literal = False
    last = b"\n"
    buf = bytearray(_CARRY + _CHUNK * 4)
    view = memoryview(buf)
    arr = np.frombuffer(buf, dtype=np.uint8)
    carry = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            k = f.readinto(view[_CARRY:])
            if not k:
                break
            chunk = view[_CARRY : _CARRY + k]
            if h is not None:
                h.update(chunk)
            if (
                size == 0
                and lines
                and bytes(chunk[:4]).startswith((GZIP_MAGIC, ZSTD_MAGIC, BZ2_MAGIC, XZ_MAGIC[:4]))
            ):
                lines = False
            size += k
            if lines:
                newlines += int(np.count_nonzero(arr[_CARRY : _CARRY + k] == 10))
                if not literal:
                    literal = _has_bool_literal(arr[_CARRY - carry : _CARRY + k], first=carry)
                last = bytes(chunk[-1:])
                carry = min(_CARRY, k)
                buf[_CARRY - carry : _CARRY] = buf[_CARRY + k - carry : _CARRY + k]
    return FileScan(
        identity=h.hexdigest() if h is not None else None,
        size=size,
        newlines=newlines if lines else None,
        ends_with_newline=last == b"\n",
        bool_literal=literal if lines else None,
    )
