"""One module per source format; each defines ADAPTER (see traceana.ingest.base)."""
