"""The verified identity behind an access token."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as stated by a verified access token.

    `sub` is the user (or service) id, `sid` the session (None for service tokens), `actor` the
    calling service of an exchanged token (the `act.sub` claim), `kid` the key that signed it
    (so a revoked key can be refused). `auth_time`, `amr` and `acr` say how and when the user last
    authenticated interactively (DESIGN §11; None/empty in tokens that do not say: a service
    token, or an issuer that does not state them); step-up policies read them
    (`tessera.tokens.step_up`). `token` is the raw access token,
    kept only so it can be forwarded or exchanged; it is excluded from `repr` and must never be
    logged.
    """

    sub: str
    sid: str | None
    client_id: str
    scopes: frozenset[str]
    roles: frozenset[str]
    ver: int
    jti: str
    issued_at: int
    expires_at: int
    audience: tuple[str, ...]
    actor: str | None
    token: str = field(repr=False)
    kid: str | None = None
    auth_time: int | None = None
    amr: tuple[str, ...] = ()
    acr: str | None = None

    def has_scope(self, scope: str) -> bool:
        """Whether the token grants `scope`."""
        return scope in self.scopes

    @property
    def is_admin(self) -> bool:
        """Whether the user holds the `admin` role."""
        return "admin" in self.roles
