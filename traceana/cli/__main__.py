"""``python -m traceana.cli``: the same command line as ``traceana``."""

from traceana.cli import main

if __name__ == "__main__":
    main()
