"""The exception hierarchy. The CLI converts any TraceanaError into one line and exit 2."""

from __future__ import annotations


class TraceanaError(ValueError):
    """Base class for every error traceana raises on bad input or usage."""


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
    """The trace store is missing, locked or inconsistent."""
