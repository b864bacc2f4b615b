"""The exception hierarchy and the exit code of each class (the CLI maps them in one place).

Exit codes (``EXIT_*``), as the README lists them:

====  ==========================================================================
0     ok
1     an SLO is breached or its error budget exhausted (report, cost: a CI gate)
2     usage or config error (bad option, invalid traceana.toml / OpenSLO / map,
      an input file refused)
3     data error: a damaged store (checksum mismatch, truncated or missing part,
      manifest garbage), data that cannot be evaluated
4     I/O error: a path that cannot be read or written (disk full, read-only)
130   interrupted (Ctrl-C / SIGINT)
====  ==========================================================================

Every class carries its ``exit_code``; a new error picks the class whose code fits.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_SLO_BREACHED = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_IO = 4
EXIT_INTERRUPTED = 130


class TraceanaError(ValueError):
    """Base class for every error traceana raises on bad input or usage (exit 2 unless a subclass says otherwise)."""

    exit_code = EXIT_USAGE


class UsageError(TraceanaError):
    """An option or argument combination that cannot work."""


class SchemaError(TraceanaError):
    """A table does not match the canonical schema."""


class ConfigError(TraceanaError):
    """A config file (traceana.toml, OpenSLO YAML, column map) is invalid."""

    def __init__(self, message: str, key: str | None = None, path: str | None = None):
        where = f"{path}: " if path else ""
        at = f"key '{key}': " if key else ""
        super().__init__(f"{where}{at}{message}")
        self.key = key
        self.path = path


class TraceParseError(TraceanaError):
    """A whole input file cannot be read (unknown format, corrupt compression, limits)."""

    def __init__(self, path: str, message: str, line: int | None = None, field: str | None = None):
        loc = str(path)
        if line is not None:
            loc += f":{line}"
        if field:
            loc += f" (field '{field}')"
        super().__init__(f"{loc}: {message}")
        self.path = str(path)
        self.line = line
        self.field = field


class InputLimitError(TraceParseError):
    """An input exceeds a safety limit (decompressed size, line length, nesting depth)."""


class StoreError(TraceanaError):
    """The trace store is missing or cannot be used as asked (exit 2)."""


class DataError(TraceanaError):
    """Stored or derived data is wrong: it cannot be trusted or evaluated (exit 3)."""

    exit_code = EXIT_DATA


class StoreCorruptError(StoreError, DataError):
    """The store is damaged: a part is missing, truncated or fails its checksum, or the manifest is garbage."""

    exit_code = EXIT_DATA


class OutputError(TraceanaError):
    """A file or directory cannot be read or written (disk full, read-only, permissions): exit 4."""

    exit_code = EXIT_IO

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = str(path)


def did_you_mean(word: str, choices, aliases: dict[str, str] | None = None) -> str:
    """The hint that ends an error about an unknown name: ' Hint: did you mean 'x'?' or ''.

    ``aliases`` maps names users bring from other tools to ours (OpenSLO's
    ``target`` is our ``objective``); otherwise the closest spelling is offered.
    """
    import difflib

    choices = list(choices)
    if aliases and aliases.get(word) in choices:
        return f" Hint: did you mean '{aliases[word]}'?"
    close = difflib.get_close_matches(word, choices, n=1)
    return f" Hint: did you mean '{close[0]}'?" if close else ""
