"""Prometheus metrics, one registry per app so that apps never share counters."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class HttpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "perfapi_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "perfapi_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class EventMetrics:
    """What the background evaluator of derived events and the webhook senders did, on the
    app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.derive_failures = Counter(
            "perfapi_derived_event_failures",
            "Failed evaluations of an org's derived events; the org is set aside a while.",
            registry=registry,
        )
        self.webhook_attempts = Counter(
            "perfapi_webhook_attempts",
            "Attempts to deliver an event to a webhook endpoint, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.webhook_failures = Counter(
            "perfapi_webhook_sender_failures",
            "Fan-outs or attempts that failed to be recorded; they are tried again.",
            registry=registry,
        )


class RollupMetrics:
    """What the background rollup refresher did, on the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.refreshed = Counter(
            "perfapi_rollup_changes_refreshed",
            "Rollup changes recomputed and cleared from the change log.",
            registry=registry,
        )
        self.failures = Counter(
            "perfapi_rollup_refresh_failures",
            "Failed tries to recompute a KPI's day range; each retry counts again.",
            registry=registry,
        )
        # Read from the database after every round, so it covers all replicas and
        # drops when an operator retries; every replica reports the same number.
        self.parked = Gauge(
            "perfapi_rollup_changes_parked",
            "Rollup changes set aside after repeated failures, until `perfapi rollups retry`.",
            registry=registry,
        )


class RateLimitMetrics:
    """How the rate limiter fared, on the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.unchecked = Counter(
            "perfapi_rate_limit_unchecked",
            "Requests let through without a rate-limit check because Redis did not answer.",
            registry=registry,
        )


class ReplicaMetrics:
    """How often reads meant for the read replica went to the primary, on the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.fallbacks = Counter(
            "perfapi_read_fallbacks",
            "Reads meant for the read replica served by the primary, by reason: the replica "
            "lagged more than read_max_lag_seconds (lag) or could not be reached (down).",
            ["reason"],
            registry=registry,
        )
        for reason in ("lag", "down"):  # both series exist from the start, at 0
            self.fallbacks.labels(reason)


class PartitionMetrics:
    """What the maintenance of the monthly partitions of points did, on the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.created = Counter(
            "perfapi_points_partitions_created",
            "Monthly partitions of points made ahead of time by the maintenance round.",
            registry=registry,
        )
        self.dropped = Counter(
            "perfapi_points_partitions_dropped",
            "Monthly partitions of points dropped, with their rollups, past the retention.",
            registry=registry,
        )
        self.drops_deferred = Counter(
            "perfapi_points_partition_drops_deferred",
            "Drops of expired partitions put off to the next round: their locks were not "
            "free within the lock timeout (readers or writers were busy on points).",
            registry=registry,
        )
        self.drop_failures = Counter(
            "perfapi_points_partition_drop_failures",
            "Drops of expired partitions that failed otherwise (logged with the error); each "
            "is tried again next round, and later months are dropped meanwhile.",
            registry=registry,
        )
