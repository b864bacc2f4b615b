"""Engine time series: Prometheus /metrics scrapes, Prometheus HTTP API results, AIPerf's server-metrics and GPU telemetry exports."""
