"""Prometheus metrics of the shared library (registered once, in the default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

JWKS_FETCHES = Counter("tessera_jwks_fetches_total", "JWKS fetch attempts, by trigger", ["trigger"])
JWKS_FETCH_FAILURES = Counter(
    "tessera_jwks_fetch_failures_total", "JWKS fetches that failed (stale keys kept)"
)
TOKEN_VERIFICATION_FAILURES = Counter(
    "tessera_token_verification_failures_total", "Rejected access tokens, by reason", ["reason"]
)
HTTP_REQUEST_DURATION = Histogram(
    "tessera_http_request_duration_seconds",
    "HTTP requests served, by method, route template and status",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
JWKS_KEYS = Gauge("tessera_jwks_keys", "Signing keys currently held by the JWKS cache")
REVOCATION_LAG = Gauge(
    "tessera_revocation_lag_seconds",
    "Seconds the revocation index may have missed events for (0 while the watch is live)",
)
REVOCATION_ENTRIES = Gauge(
    "tessera_revocation_index_entries", "Entries in the revocation index, by kind", ["kind"]
)
REVOCATION_EVENTS_APPLIED = Counter(
    "tessera_revocation_events_applied_total", "Revocation events applied, by kind", ["kind"]
)
REVOCATION_RECONNECTS = Counter(
    "tessera_revocation_reconnects_total", "Revocation feed failures followed by a reconnect"
)
REVOCATION_RELISTS = Counter(
    "tessera_revocation_relists_total", "Full re-lists of the revocation feed after a 410"
)
