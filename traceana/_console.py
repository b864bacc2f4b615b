"""The rich Console every command prints with."""

from __future__ import annotations

import os
import sys

#: rich falls back to 80 columns when output is not a terminal (make, CI logs, pipes),
#: which wraps numbers mid-digit in the wider tables; logs have room for more.
PIPE_WIDTH = 140


def console(err: bool = False, **kw):
    from rich.console import Console

    stream = sys.stderr if err else sys.stdout
    width = None if (stream.isatty() or "COLUMNS" in os.environ) else PIPE_WIDTH
    return Console(stderr=err, width=width, **kw)
