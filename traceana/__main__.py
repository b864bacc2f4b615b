"""``python -m traceana``: the CLI."""

from traceana.cli import main

if __name__ == "__main__":
    main()
