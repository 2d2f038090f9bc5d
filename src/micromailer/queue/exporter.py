"""The worker's Prometheus exporter: its delivery histograms and its process's CPU and memory,
served at ``/metrics`` on ``MICROMAILER_WORKER_METRICS_PORT`` (``micromailer worker
--metrics-port``). That it answers at all is the worker's liveness probe."""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server


def worker_registry() -> CollectorRegistry:
    """A worker's registry: this process's figures now, the delivery histograms once made."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    return registry


def serve_worker_metrics(registry: CollectorRegistry, host: str, port: int) -> WSGIServer:
    """Serve ``registry`` on ``host:port`` from a daemon thread; the server, to shut down.

    Raises ``OSError`` when the port is taken."""
    server, _thread = start_http_server(port, host, registry=registry)
    return server


__all__ = ["serve_worker_metrics", "worker_registry"]
