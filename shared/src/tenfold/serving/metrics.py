"""Prometheus metrics of one service (a registry per app: several apps in one process,
as in tests, never collide)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


@dataclass
class ServiceMetrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    model_info: Gauge
    predictions: Counter
    model_swaps: Counter
    sink_written: Counter
    sink_dropped: Counter
    sink_failed: Counter

    @classmethod
    def create(cls) -> ServiceMetrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "tenfold_http_requests",
                "HTTP requests by endpoint and status",
                ["endpoint", "method", "status"],
                registry=registry,
            ),
            latency=Histogram(
                "tenfold_http_request_duration_seconds",
                "Request latency by endpoint",
                ["endpoint", "method"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            model_info=Gauge(
                "tenfold_model_info",
                "Loaded model (value 1)",
                ["model", "version", "run_id"],
                registry=registry,
            ),
            predictions=Counter(
                "tenfold_predictions", "Items scored", ["model"], registry=registry
            ),
            model_swaps=Counter(
                "tenfold_model_swaps",
                "New model versions swapped in while serving",
                registry=registry,
            ),
            sink_written=Counter(
                "tenfold_prediction_log_written",
                "Prediction records written by the sink",
                registry=registry,
            ),
            sink_dropped=Counter(
                "tenfold_prediction_log_dropped",
                "Prediction records dropped because the sink's queue was full",
                registry=registry,
            ),
            sink_failed=Counter(
                "tenfold_prediction_log_failed",
                "Prediction records lost because the sink failed to write them",
                registry=registry,
            ),
        )

    def serving(self, model: str, version: str | None, run_id: str | None) -> None:
        """The model info gauge names exactly the model being served."""
        self.model_info.clear()
        self.model_info.labels(model, version or "", run_id or "").set(1)
