"""Engine metrics: Prometheus /metrics scrapes, Prometheus HTTP API results, AIPerf's server-metrics export."""
