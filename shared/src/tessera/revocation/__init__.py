"""Revocation push (DESIGN §4): an in-memory index of revoked sessions, users, tokens and keys,
kept current by a watcher of auth's list + watch feed and consulted by TokenVerifier."""

from tessera.revocation.events import MalformedEventError, RevocationEvent
from tessera.revocation.index import RevocationIndex
from tessera.revocation.watcher import (
    Backoff,
    FeedGoneError,
    FeedSource,
    HttpRevocationFeed,
    RevocationWatcher,
)

__all__ = [
    "Backoff",
    "FeedGoneError",
    "FeedSource",
    "HttpRevocationFeed",
    "MalformedEventError",
    "RevocationEvent",
    "RevocationIndex",
    "RevocationWatcher",
]
