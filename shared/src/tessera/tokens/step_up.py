"""Step-up authentication at a resource service (RFC 9470): an operation names how recent and
how strong the user's authentication must be, and a token that falls short is answered with a
challenge the client can act on (re-authenticate, then retry), not with "invalid token".

    REFUND = StepUpPolicy(max_age_seconds=300)                 # authenticated in the last 5 min
    ADMIN = StepUpPolicy(max_age_seconds=900, min_acr=ACR_MFA)  # and with a second factor

    REFUND.check(principal, now=time.time())   # InsufficientUserAuthenticationError, or nothing

Levels (DESIGN §11) are ordered `urn:tessera:acr:pwd` < `urn:tessera:acr:mfa` <
`urn:tessera:acr:phr` (phishing-resistant: a passkey). A token that does not state `auth_time`
(or an `acr` this module does not know) cannot prove a policy, so it falls short of any policy
that asks for one. HTTP routes state a policy with `tessera.http.deps.require_authentication`;
a use case behind a gRPC method calls `check`, and `answers_service_errors` answers the same
challenge (UNAUTHENTICATED, trailing `www-authenticate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tessera.tokens.errors import InsufficientUserAuthenticationError

ACR_PWD = "urn:tessera:acr:pwd"  # noqa: S105 (a level's name, not a password)
ACR_MFA = "urn:tessera:acr:mfa"
ACR_PHR = "urn:tessera:acr:phr"
ACR_LEVELS = (ACR_PWD, ACR_MFA, ACR_PHR)
"""Every level, weakest first; RFC 8414 metadata lists them as `acr_values_supported`."""


class AuthenticatedCaller(Protocol):
    """What a policy reads of a verified caller (`tessera.Principal` fits)."""

    @property
    def auth_time(self) -> int | None: ...

    @property
    def acr(self) -> str | None: ...


def acr_rank(acr: str | None) -> int:
    """The level's place in `ACR_LEVELS` (-1: absent or unknown, weaker than any)."""
    return ACR_LEVELS.index(acr) if acr in ACR_LEVELS else -1


@dataclass(frozen=True, slots=True)
class StepUpPolicy:
    """What one operation needs of the user's authentication: at most `max_age_seconds` old,
    and at least `min_acr` (either may be None: not asked)."""

    max_age_seconds: int | None = None
    min_acr: str | None = None

    def __post_init__(self) -> None:
        if self.max_age_seconds is not None and self.max_age_seconds < 0:
            raise ValueError("max_age_seconds must be 0 or more")
        if self.min_acr is not None and self.min_acr not in ACR_LEVELS:
            raise ValueError(f"min_acr must be one of {', '.join(ACR_LEVELS)}")

    def shortfall(self, principal: AuthenticatedCaller, *, now: float) -> str | None:
        """Why `principal` falls short (shown to the caller), or None when it satisfies."""
        if self.min_acr is not None and acr_rank(principal.acr) < acr_rank(self.min_acr):
            return "A stronger authentication is required"
        too_old = self.max_age_seconds is not None and (
            principal.auth_time is None or now - principal.auth_time > self.max_age_seconds
        )
        return "A more recent authentication is required" if too_old else None

    def check(self, principal: AuthenticatedCaller, *, now: float) -> None:
        """`InsufficientUserAuthenticationError` (the RFC 9470 challenge) if it falls short."""
        reason = self.shortfall(principal, now=now)
        if reason is not None:
            raise InsufficientUserAuthenticationError(
                reason, max_age=self.max_age_seconds, acr_values=self.min_acr
            )
