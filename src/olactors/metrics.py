"""Every Prometheus metric the daemon exports.

Metrics are defined here, not where they are counted, so the whole exported
surface is one file. Counters and histograms live in ``REGISTRY``. State
that lives elsewhere (the actor tree, the queues) is not mirrored into
gauges that would keep a series for an actor long gone: it is read at each
scrape into the :class:`ScrapeGauge` families, and :func:`exposition` serves
both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

BREAKER_STATE = Gauge(
    "olactors_breaker_state",
    "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open.",
    ["provider"],
    registry=REGISTRY,
)
BREAKER_TRANSITIONS = Counter(
    "olactors_breaker_transitions_total",
    "Circuit breaker transitions per provider.",
    ["provider", "from_state", "to_state"],
    registry=REGISTRY,
)
LIMITER_WAIT = Histogram(
    "olactors_limiter_wait_seconds",
    "Time calls waited for their provider's rate limit.",
    ["provider"],
    buckets=(0.0, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0),
    registry=REGISTRY,
)
LIMITER_REFUSED = Counter(
    "olactors_limiter_refused_total",
    "Calls refused by a rate limiter because they asked not to wait.",
    ["provider"],
    registry=REGISTRY,
)
LIMITER_PAUSES = Counter(
    "olactors_limiter_pauses_total",
    "Pauses and slow-downs a provider asked for (429, Retry-After, usage headers).",
    ["provider", "kind"],
    registry=REGISTRY,
)
CLIENT_REQUEST_SECONDS = Histogram(
    "olactors_client_request_duration_seconds",
    "Duration of each attempt of a call to a provider.",
    ["provider", "endpoint"],
    registry=REGISTRY,
)
CLIENT_RESPONSES = Counter(
    "olactors_client_responses_total",
    "Provider call attempts by outcome: the HTTP status, or network / timeout.",
    ["provider", "endpoint", "status"],
    registry=REGISTRY,
)
PUSH_TOKENS_REMOVED = Counter(
    "olactors_push_tokens_removed_total",
    "Device tokens removed because FCM (UNREGISTERED) or Expo (DeviceNotRegistered) "
    "said the app is no longer on the device.",
    ["platform"],
    registry=REGISTRY,
)
WEBSOCKET_FRAMES_DROPPED = Counter(
    "olactors_websocket_frames_dropped_total",
    "Websocket frames heard from other replicas that this replica's hub had no room for.",
    registry=REGISTRY,
)
CLIENT_RETRIES = Counter(
    "olactors_client_retries_total",
    "Provider calls sent again after a transient failure.",
    ["provider", "endpoint"],
    registry=REGISTRY,
)
CLIENT_CACHE = Counter(
    "olactors_client_cache_total",
    "GET cache lookups by result (hit or miss).",
    ["provider", "result"],
    registry=REGISTRY,
)
INGRESS_REQUESTS = Counter(
    "olactors_ingress_requests_total",
    "Webhook requests answered, by source and HTTP status.",
    ["source", "status"],
    registry=REGISTRY,
)
PROCESSING_SECONDS = Histogram(
    "olactors_processing_seconds",
    "Time of one delivery attempt, by engine namespace (webhooks.<source>).",
    ["source"],
    registry=REGISTRY,
)
DELIVERY_RETRIES = Counter(
    "olactors_delivery_retries_total",
    "Delivery attempts that failed and will be retried, by engine namespace.",
    ["source"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "olactors_dead_letters_total",
    "Deliveries dead-lettered, by engine namespace.",
    ["source"],
    registry=REGISTRY,
)
SYNC_RUNS = Counter(
    "olactors_sync_runs_total",
    "Sync runs ended, per sync, kind (full, incremental, targeted) and status.",
    ["sync", "kind", "status"],
    registry=REGISTRY,
)
SYNC_RECORDS = Counter(
    "olactors_sync_records_total",
    "Records a sync's runs wrote or settled, per sync and outcome.",
    ["sync", "outcome"],
    registry=REGISTRY,
)
SYNC_RUN_SECONDS = Histogram(
    "olactors_sync_run_seconds",
    "How long sync runs took, fetch and apply, per sync.",
    ["sync"],
    buckets=(0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0),
    registry=REGISTRY,
)
UNROUTED = Counter(
    "olactors_unrouted_events_total",
    "Stored events that matched no route, by source.",
    ["source"],
    registry=REGISTRY,
)
HTTP_CONNECTIONS = Gauge(
    "olactors_http_connections",
    "Connections open on each listener (public, admin).",
    ["listener"],
    registry=REGISTRY,
)
HTTP_REFUSED = Counter(
    "olactors_http_refused",
    "Requests or connections a listener refused to protect itself, by reason "
    "(connections: over max_connections; bodies: the body budget was spent).",
    ["listener", "reason"],
    registry=REGISTRY,
)

CHAOS_CRASHES = Counter(
    "olactors_chaos_crashes_total",
    "Actor crashes injected on purpose ([chaos] only), by trigger (random, request) "
    "and the target pattern that chose the actor (empty for a request).",
    ["trigger", "pattern"],
    registry=REGISTRY,
)


@dataclass(frozen=True, slots=True)
class ScrapeGauge:
    """A gauge whose series are read fresh at each scrape: what is gone is not reported."""

    name: str
    documentation: str
    labels: tuple[str, ...]

    def family(self, samples: Iterable[tuple[Sequence[str], float]]) -> GaugeMetricFamily:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, value in samples:
            family.add_metric(labels, value)
        return family


QUEUE_DEPTH = ScrapeGauge(
    "olactors_queue_items",
    "Items per queue and state (ready, leased, delayed, dead), read at scrape time.",
    ("queue", "state"),
)
MAILBOX_DEPTH = ScrapeGauge(
    "olactors_mailbox_depth",
    "Messages waiting in each actor's mailbox, read at scrape time.",
    ("path",),
)
RESTARTS_SINCE_STABLE = ScrapeGauge(
    "olactors_actor_restarts_since_stable",
    "Restarts of each actor and supervisor since it last stayed up its backoff's "
    "reset_after_s (3 or more: crash-looping), read at scrape time.",
    ("path",),
)
ACTOR_RESTARTS = ScrapeGauge(
    "olactors_actor_restarts",
    "Restarts of each actor and supervisor since the daemon started, read at scrape time.",
    ("path",),
)


class _ReadNow(Collector):
    def __init__(self, families: Sequence[GaugeMetricFamily]) -> None:
        self._families = families

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return iter(self._families)


def exposition(families: Sequence[GaugeMetricFamily]) -> bytes:
    """The text a scrape gets: ``REGISTRY``'s series, then ``families`` as read just now."""
    now = CollectorRegistry(auto_describe=False)
    now.register(_ReadNow(families))
    return generate_latest(REGISTRY) + generate_latest(now)
