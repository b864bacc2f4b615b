"""The rich Console every command prints with, and the escaping of control characters for the terminal."""

from __future__ import annotations

import os
import re
import sys

#: rich falls back to 80 columns when output is not a terminal (make, CI logs, pipes),
#: which wraps numbers mid-digit in the wider tables; logs have room for more.
PIPE_WIDTH = 140

#: C0 controls but tab and newline, DEL, and the C1 controls (U+0080-U+009F, e.g. the 8-bit CSI)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_terminal(text: str) -> str:
    """``text`` with every control character written as a visible ``\\xNN`` escape.

    A model name or file name holding ``ESC [ 2 J`` (clear screen), an OSC title
    sequence or a carriage return must not act on the operator's terminal: rich
    passes such bytes through unchanged.
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def console(err: bool = False, **kw):
    from rich.console import Console

    class _EscapingConsole(Console):
        # every str a command prints, and every str cell of a Table, goes through render_str
        def render_str(self, text: str, **kwargs):
            return super().render_str(escape_terminal(text), **kwargs)

    stream = sys.stderr if err else sys.stdout
    width = None if (stream.isatty() or "COLUMNS" in os.environ) else PIPE_WIDTH
    return _EscapingConsole(stderr=err, width=width, **kw)
