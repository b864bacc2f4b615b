"""The command line: parse arguments, call the library, render the result. Nothing more.

Errors are converted to one line on stderr and an exit code in one place,
:func:`_exit_for` (the codes are defined in :mod:`traceana.errors`): 0 ok; 1 an
SLO is breached or its budget exhausted (report, cost); 2 usage or config; 3
data (a damaged store); 4 I/O (a path that cannot be read or written); 130
interrupted. No traceback is printed unless ``--debug``.
Heavy imports live inside the commands so that ``traceana --help`` is instant.
"""

from __future__ import annotations

import click

from traceana.errors import EXIT_DATA, EXIT_INTERRUPTED, EXIT_IO, TraceanaError


def _exit_for(exc: BaseException) -> tuple[int, str]:
    """(exit code, one-line message) for an exception that reached the CLI."""
    from traceana._console import escape_terminal

    if isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "InterruptException":  # duckdb's Ctrl-C
        return EXIT_INTERRUPTED, "interrupted"
    if isinstance(exc, TraceanaError):
        return exc.exit_code, escape_terminal(str(exc))
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else "I/O"
        return EXIT_IO, escape_terminal(f"{where}: {exc.strerror or exc}")
    if isinstance(exc, RecursionError):
        return (
            EXIT_DATA,
            "input nested too deeply to evaluate (RecursionError). Hint: simplify the expression or input",
        )
    if isinstance(exc, OverflowError):
        return EXIT_DATA, escape_terminal(f"a number is out of range: {exc}")
    if isinstance(exc, MemoryError):
        return (
            EXIT_DATA,
            "out of memory. Hint: narrow the input (--since/--until) or raise the machine's memory",
        )
    return EXIT_DATA, escape_terminal(
        f"internal error ({type(exc).__name__}: {exc}). Hint: rerun with --debug for the traceback"
    )


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            if ctx.params.get("debug"):
                raise
            code, message = _exit_for(exc)
            click.echo(f"traceana: {'' if code == EXIT_INTERRUPTED else 'error: '}{message}", err=True)
            ctx.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="traceana")
@click.option("--debug", is_flag=True, help="Show the Python traceback of an error instead of one line.")
def main(debug: bool) -> None:
    """traceana: latency percentiles, concurrency, SLO burn and cost per million tokens
    from the logs and traces of LLM serving (vLLM, SGLang, TGI, LiteLLM, OTel, benchmarks).

    Exit codes: 0 ok, 1 SLO breached, 2 usage/config error, 3 data error, 4 I/O error, 130 interrupted.
    """


#: command modules, each defining one click command (or group) of the same name
COMMANDS = {
    "ingest": "ingest",
    "check": "check",
    "quarantine": "quarantine",
    "export": "export",
    "schema": "schema",
    "report": "report",
    "cost": "cost",
    "compare": "compare",
    "rules": "rules",
    "slo": "rules",
    "simulate": "simulate",
}


def _register() -> None:
    """Add every command; their heavy imports stay inside the command bodies, so --help is instant."""
    import importlib

    for name, module in COMMANDS.items():
        main.add_command(getattr(importlib.import_module(f"traceana.cli.{module}"), name))


_register()


if __name__ == "__main__":
    main()
