"""Prometheus metrics, served on the admin listener.

Labels come only from small bounded sets (method, operation, status class,
auth mode, outcome): never a key, a path, a user or an access key id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"})


class Metrics:
    """The proxy's metrics, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "s3proxy_requests_total",
            "Requests handled, by method, S3 operation, status class and auth mode.",
            ["method", "operation", "status_class", "auth_mode"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "s3proxy_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            ["operation"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.auth = Counter(
            "s3proxy_auth_total",
            "Authentication outcomes: success, failure (bad credentials) or error.",
            ["mode", "outcome"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "s3proxy_authorization_decisions_total",
            "Policy decisions for session callers.",
            ["decision"],
            registry=self.registry,
        )
        self.received = Counter(
            "s3proxy_received_bytes_total",
            "Request body bytes received from clients.",
            registry=self.registry,
        )
        self.sent = Counter(
            "s3proxy_sent_bytes_total",
            "Response body bytes sent to clients.",
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "s3proxy_upstream_errors_total",
            "Upstream requests that failed before a response: by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "s3proxy_requests_in_flight",
            "Requests being handled now.",
            registry=self.registry,
        )

    def observe_request(
        self,
        method: str,
        operation: str,
        status: int,
        auth_mode: str,
        seconds: float,
    ) -> None:
        method = method if method in METHODS else "OTHER"
        status_class = f"{status // 100}xx"
        self.requests.labels(method, operation, status_class, auth_mode).inc()
        self.duration.labels(operation).observe(seconds)
