"""Users of a running platform, made through its public API (for e2e tests and benchmarks)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Account:
    """A registered, logged-in user: its id (the token's `sub`) and a fresh access token."""

    id: str
    email: str
    password: str = field(repr=False)
    access_token: str = field(repr=False)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def register_and_login(auth_base_url: str, *, client_id: str = "web") -> Account:
    """POST /v1/users, then POST /v1/auth/login, as a client would."""
    email = f"user-{secrets.token_hex(6)}@example.org"
    password = f"pw-{secrets.token_urlsafe(12)}"
    with httpx.Client(base_url=auth_base_url, timeout=30) as client:
        registered = client.post("/v1/users", json={"email": email, "password": password})
        if registered.status_code != 201:
            raise RuntimeError(f"register: {registered.status_code} {registered.text}")
        login = client.post(
            "/v1/auth/login", json={"email": email, "password": password, "client_id": client_id}
        )
        if login.status_code != 200:
            raise RuntimeError(f"login: {login.status_code} {login.text}")
    return Account(registered.json()["id"], email, password, login.json()["access_token"])
