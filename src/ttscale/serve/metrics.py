"""What the server has done, in the Prometheus text format (``/metrics``), in a registry of its own so
that two servers in one process (tests) never share counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class ServerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("ttscale_requests", "Requests by endpoint and status", ["endpoint", "status"],
                                registry=r)
        self.samples = Counter("ttscale_samples", "Samples drawn to answer requests", registry=r)
        self.flops = Counter("ttscale_flops", "Inference FLOPs spent, by kind", ["kind"], registry=r)
        self.queue = Gauge("ttscale_queue_depth", "Requests waiting for the model", registry=r)
        # Per engine call of an in-process model: how many requests were decoded together, and their sequences.
        self.batch_requests = Histogram("ttscale_batch_requests", "Requests joined in one engine call", registry=r,
                                        buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32, 64))
        self.batch_sequences = Histogram("ttscale_batch_sequences", "Sequences decoded in one engine call",
                                         registry=r, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
        self.latency = Histogram("ttscale_request_seconds", "Wall seconds per answered request", registry=r,
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
