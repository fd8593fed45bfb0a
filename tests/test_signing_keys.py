"""Issue 5 end to end: signing keys rotate under load with zero failed requests.

Real processes on their own platforms (short JWKS max-age and token lifetime, so the key
schedule runs in seconds): SQLite with one auth, PostgreSQL with two auth replicas on one
database. Rotations are the operator's `python -m auth_service keys rotate`, run by the tests.

- Three rotations while threads call orders (HTTP, and POST /v1/orders through gRPC to billing)
  and billing (gRPC) with old and fresh tokens: no request fails, fresh tokens carry each new
  kid, and a token from before the first rotation still works after the third.
- Two replicas: tokens from either verify at the other, at orders and at billing; two operators
  rotating at once leave exactly one active key, which both replicas then sign with.
- An emergency rotation: the revoked key's tokens die at orders and billing (cached ones too),
  new tokens work.
- A flood of tokens with random kids costs each verifier at most one JWKS fetch per cooldown.
- auth stopped: orders and billing keep verifying the tokens they can, until those expire (auth
  issues shorter-lived tokens for that test, so it outwaits one in 20 s rather than 45).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import grpc
import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tessera_dev import probes
from tessera_dev.accounts import Account, register_and_login
from tessera_dev.harness import (
    RunningPlatform,
    free_port_plan,
    free_ports,
    temporary_postgres_databases,
)
from tessera_dev.platform import BULK_USERS_AUTH_SETTINGS, describe_platform, sqlite_database_urls
from tessera_dev.probes import billing_stub
from tessera_dev.processes import child_environment, local_argv
from tessera_dev.service_clients import generate_service_client_secrets

TOKEN_TTL_SECONDS = 45
"""Long enough for a token to outlive three rotations under load (the first token is checked
after the third)."""
OUTWAITED_TOKEN_TTL_SECONDS = 20
"""The lifetime of the token the auth-stopped test waits out: longer than the verifiers take to
notice auth is gone (BOUND_SECONDS at most) plus a margin, so the token is checked while auth is
down before it expires."""
VERIFIER_LEEWAY_SECONDS = 1
KEY_SETTINGS = {
    # a next key may sign 1 + 0.2 + 2 s after it is published
    "JWKS_MAX_AGE_SECONDS": "1",
    "SIGNING_KEY_RELOAD_SECONDS": "0.2",
    "ACCESS_TOKEN_TTL_SECONDS": str(TOKEN_TTL_SECONDS),
}
BOUND_SECONDS = 15.0


def _auth_settings() -> dict[str, str]:
    kek = base64.b64encode(secrets.token_bytes(32)).decode()
    return {
        "KEY_ENCRYPTION_KEY": kek,
        "PASSWORD_HASH_MEMORY_KIB": "8192",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_PARALLELISM": "1",
        **BULK_USERS_AUTH_SETTINGS,
        **KEY_SETTINGS,
    }


def _start(urls: dict[str, str], workdir: Path) -> RunningPlatform:
    verifier = {"TOKEN_LEEWAY_SECONDS": str(VERIFIER_LEEWAY_SECONDS)}
    plan = describe_platform(
        ports=free_port_plan(),
        database_urls=urls,
        extra_settings={"auth": _auth_settings(), "orders": verifier, "billing": verifier},
        service_clients=generate_service_client_secrets(workdir / "var"),
    )
    return RunningPlatform.start(plan, log_dir=workdir / "logs")


@dataclass
class KeyPlatform:
    """A running platform and the auth replicas tokens can come from."""

    running: RunningPlatform
    auth_urls: list[str]
    backend: str

    @property
    def orders_url(self) -> str:
        return self.running.plan.service("orders").base_url

    @property
    def grpc_target(self) -> str:
        target = self.running.plan.service("billing").grpc_target
        assert target is not None
        return target

    def auth_environment(self, replica: int = 0) -> dict[str, str]:
        settings = dict(self.running.plan.service("auth").settings)
        if replica:
            settings["HTTP_PORT"] = self.auth_urls[replica].rsplit(":", 1)[1]
        return settings

    def keys_cli(self, *args: str, replica: int = 0) -> subprocess.Popen[str]:
        """`python -m auth_service keys ...`, as an operator runs it next to one replica."""
        return subprocess.Popen(
            local_argv(("python", "-m", "auth_service", "keys", *args)),
            env=child_environment(self.auth_environment(replica)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run_keys_cli(self, *args: str) -> str:
        process = self.keys_cli(*args)
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        return stdout


@pytest.fixture(scope="module")
def sqlite_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyPlatform]:
    workdir = tmp_path_factory.mktemp("keys-sqlite")
    with _start(sqlite_database_urls(workdir / "var"), workdir) as running:
        yield KeyPlatform(running, [running.plan.service("auth").base_url], "sqlite")


@pytest.fixture(scope="module")
def postgres_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyPlatform]:
    """Two auth replicas on one PostgreSQL database (orders and billing fetch the JWKS of the
    first; tokens come from both)."""
    workdir = tmp_path_factory.mktemp("keys-postgres")
    with temporary_postgres_databases("keys") as urls, _start(urls, workdir) as running:
        auth = running.plan.service("auth")
        (port,) = free_ports(1)
        settings = {**auth.settings, "HTTP_PORT": str(port)}
        replica = replace(auth, http_port=port, settings=settings)
        running.start_process(
            "auth-replica", replica.serve_argv, settings, ready_url=replica.health_url
        )
        yield KeyPlatform(running, [auth.base_url, replica.base_url], "postgres")


@pytest.fixture(params=["sqlite", "postgres"])
def key_platform(request: pytest.FixtureRequest) -> KeyPlatform:
    platform: KeyPlatform = request.getfixturevalue(f"{request.param}_platform")
    return platform


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


def eventually(condition: Callable[[], bool]) -> bool:
    return probes.eventually(condition, BOUND_SECONDS)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def orders_status(platform: KeyPlatform, token: str) -> int:
    return probes.orders_status(platform.orders_url, token)


def billing_code(platform: KeyPlatform, token: str) -> grpc.StatusCode:
    with billing_stub(platform.running) as stub:
        return probes.list_invoices_code(stub, token)


def accepted_everywhere(platform: KeyPlatform, token: str) -> bool:
    return orders_status(platform, token) == 200 and billing_code(platform, token) == (
        grpc.StatusCode.OK
    )


def mobile_login(auth_url: str, account: Account) -> dict[str, str]:
    with httpx.Client(base_url=auth_url, timeout=30) as client:
        response = client.post(
            "/v1/auth/login",
            json={"email": account.email, "password": account.password, "client_id": "mobile"},
        )
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


@dataclass
class Load:
    """Threads calling orders and billing with every token in `tokens` until stopped."""

    platform: KeyPlatform
    tokens: list[str]
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, token: str) -> None:
        with self._lock:
            self.tokens.append(token)

    def _record(self, what: str, ok: bool) -> None:
        with self._lock:
            self.requests += 1
            if not ok:
                self.failures.append(what)

    def _snapshot(self) -> list[str]:
        with self._lock:
            return list(self.tokens)

    def _orders(self) -> None:
        with httpx.Client(base_url=self.platform.orders_url, timeout=30) as client:
            while not self._stop.is_set():
                for token in self._snapshot():
                    status = client.get("/v1/orders", headers=bearer(token)).status_code
                    self._record(f"GET /v1/orders {status} kid={kid_of(token)[:8]}", status == 200)

    def _orders_through_billing(self) -> None:
        body = {
            "items": [{"sku": "MUG", "quantity": 1, "unit_price_cents": 100}],
            "currency": "EUR",
        }
        with httpx.Client(base_url=self.platform.orders_url, timeout=30) as client:
            while not self._stop.is_set():
                token = self._snapshot()[-1]  # the freshest: its kid is the newest key's
                response = client.post("/v1/orders", json=body, headers=bearer(token))
                ok = response.status_code == 201 and response.json()["status"] == "paid"
                self._record(f"POST /v1/orders {response.status_code} kid={kid_of(token)[:8]}", ok)
                time.sleep(0.2)

    def _billing(self) -> None:
        with billing_stub(self.platform.running) as stub:
            while not self._stop.is_set():
                for token in self._snapshot():
                    code = probes.list_invoices_code(stub, token)
                    ok = code == grpc.StatusCode.OK
                    self._record(f"ListInvoices {code.name} kid={kid_of(token)[:8]}", ok)

    @contextmanager
    def running(self) -> Iterator[None]:
        workers = (self._orders, self._orders_through_billing, self._billing)
        with ThreadPoolExecutor(len(workers)) as pool:
            futures = [pool.submit(work) for work in workers]
            try:
                yield
            finally:
                self._stop.set()
                for future in futures:
                    future.result(timeout=60)


def first_result(attempt: Callable[[], str | None], seconds: float = BOUND_SECONDS) -> str | None:
    """The first non-None result of `attempt`, tried until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while (result := attempt()) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return result


def test_three_rotations_under_load_fail_no_request(key_platform: KeyPlatform) -> None:
    account = register_and_login(key_platform.auth_urls[0], client_id="mobile")
    first_token = account.access_token
    kids = [kid_of(first_token)]
    load = Load(key_platform, [first_token])
    logins = 0

    def fresh_token_signed_by(kid: str) -> str | None:
        nonlocal logins
        logins += 1  # alternate between the replicas, where there are two
        url = key_platform.auth_urls[logins % len(key_platform.auth_urls)]
        token = mobile_login(url, account)["access_token"]
        return token if kid_of(token) == kid else None

    with load.running():
        for _ in range(3):
            output = key_platform.run_keys_cli("rotate")
            activated = re.search(r"^rotated: \S+ retired .*?, (\S+) active$", output, re.M)
            assert activated is not None, output
            # every replica signs with the new key within its reload interval
            new_kid = activated.group(1)
            token = first_result(partial(fresh_token_signed_by, new_kid))
            assert token is not None, f"no token signed by {new_kid}"
            load.add(token)  # from now on the load uses it at once, at every service
            kids.append(new_kid)
        time.sleep(1)  # another round of requests with the newest token

    assert load.failures == [], load.failures[:20]
    assert load.requests > 100
    assert len(set(kids)) == 4
    assert accepted_everywhere(key_platform, first_token)  # three rotations old, still alive


def test_tokens_from_either_replica_verify_everywhere(postgres_platform: KeyPlatform) -> None:
    account = register_and_login(postgres_platform.auth_urls[0], client_id="mobile")
    tokens = [mobile_login(url, account)["access_token"] for url in postgres_platform.auth_urls]

    assert kid_of(tokens[0]) == kid_of(tokens[1])
    for token in tokens:
        assert accepted_everywhere(postgres_platform, token)
        for url in postgres_platform.auth_urls:
            me = httpx.get(f"{url}/v1/users/me", headers=bearer(token), timeout=10)
            assert me.status_code == 200, me.text


def test_two_operators_rotating_at_once_leave_one_active_key_on_both_replicas(
    postgres_platform: KeyPlatform,
) -> None:
    def retired_count() -> int:
        listing = postgres_platform.run_keys_cli("list").splitlines()
        return [line.split("\t")[1] for line in listing].count("retired")

    postgres_platform.run_keys_cli("rotate")  # the next key is young now: both must wait for it
    retired_before = retired_count()
    first = postgres_platform.keys_cli("rotate", replica=0)
    second = postgres_platform.keys_cli("rotate", replica=1)
    outputs = [process.communicate(timeout=120)[0] for process in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0], outputs
    verdicts = [o.split(":")[0] for o in outputs]
    assert set(verdicts) <= {"rotated", "already rotated by someone else"}, outputs
    # each "rotated" is one rotation, never two rotations for one operator's call
    assert retired_count() - retired_before == verdicts.count("rotated")
    listing = postgres_platform.run_keys_cli("list")
    assert [line.split("\t")[1] for line in listing.splitlines()].count("active") == 1
    active = next(line.split("\t")[0] for line in listing.splitlines() if "\tactive\t" in line)
    account = register_and_login(postgres_platform.auth_urls[0], client_id="mobile")

    def both_sign_with_the_active_key() -> bool:
        kids = {
            kid_of(mobile_login(url, account)["access_token"])
            for url in postgres_platform.auth_urls
        }
        return kids == {active}

    assert eventually(both_sign_with_the_active_key)
    documents = {
        httpx.get(f"{url}/.well-known/jwks.json", timeout=10).text
        for url in postgres_platform.auth_urls
    }
    assert len(documents) == 1  # both replicas publish the same key set


def test_an_emergency_rotation_kills_the_keys_tokens_at_orders_and_billing(
    key_platform: KeyPlatform,
) -> None:
    account = register_and_login(key_platform.auth_urls[0], client_id="mobile")
    old = account.access_token
    assert accepted_everywhere(key_platform, old)  # cached by both verifiers now

    output = key_platform.run_keys_cli("rotate", "--revoke-current")

    assert output.startswith(f"revoked {kid_of(old)}"), output
    assert eventually(lambda: orders_status(key_platform, old) == 401)
    assert eventually(lambda: billing_code(key_platform, old) == grpc.StatusCode.UNAUTHENTICATED)
    new = mobile_login(key_platform.auth_urls[0], account)["access_token"]
    assert kid_of(new) != kid_of(old)
    assert eventually(lambda: accepted_everywhere(key_platform, new))


def garbage_kid_token(key: rsa.RSAPrivateKey) -> str:
    """A well-formed RS256 access token whose kid no JWKS has ever published."""

    def segment(value: object) -> str:
        raw = json.dumps(value).encode() if not isinstance(value, bytes) else value
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = segment({"alg": "RS256", "typ": "at+jwt", "kid": secrets.token_urlsafe(16)})
    now = int(time.time())
    payload = segment(
        {
            "iss": "http://localhost:8000",
            "sub": "x",
            "aud": ["orders", "billing"],
            "exp": now + 60,
            "iat": now,
            "nbf": now,
            "jti": secrets.token_hex(8),
        }
    )
    signature = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{segment(signature)}"


def unknown_kid_fetches(base_url: str) -> float:
    metrics = httpx.get(f"{base_url}/metrics", timeout=10).text
    match = re.search(r'^tessera_jwks_fetches_total\{trigger="unknown_kid"\} (\S+)$', metrics, re.M)
    return float(match.group(1)) if match else 0.0


def test_a_flood_of_random_kids_costs_each_verifier_at_most_one_fetch_per_cooldown(
    sqlite_platform: KeyPlatform,
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens = [garbage_kid_token(key) for _ in range(1000)]
    billing_url = sqlite_platform.running.plan.service("billing").base_url
    before = {url: unknown_kid_fetches(url) for url in (sqlite_platform.orders_url, billing_url)}
    started = time.monotonic()

    with httpx.Client(base_url=sqlite_platform.orders_url, timeout=10) as client:
        statuses = {client.get("/v1/orders", headers=bearer(t)).status_code for t in tokens}
    with billing_stub(sqlite_platform.running) as stub:
        codes = {probes.list_invoices_code(stub, token) for token in tokens}

    elapsed = time.monotonic() - started
    assert statuses == {401}
    assert codes == {grpc.StatusCode.UNAUTHENTICATED}
    cooldown = 30  # JwksCache's default refresh_cooldown_seconds
    allowed = 1 + int(elapsed // cooldown)
    for url, count in before.items():
        assert unknown_kid_fetches(url) - count <= allowed, url


def test_with_auth_stopped_tokens_verify_until_they_expire(sqlite_platform: KeyPlatform) -> None:
    running = sqlite_platform.running
    auth = running.plan.service("auth")
    # auth again on the same database and keys, issuing tokens this test can outwait
    restart_auth(
        sqlite_platform,
        {**auth.settings, "ACCESS_TOKEN_TTL_SECONDS": str(OUTWAITED_TOKEN_TTL_SECONDS)},
    )
    try:
        account = register_and_login(sqlite_platform.auth_urls[0], client_id="mobile")
        token = account.access_token
        assert accepted_everywhere(sqlite_platform, token)
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["exp"] - claims["iat"] == OUTWAITED_TOKEN_TTL_SECONDS
        expires_at = claims["exp"]
        verifiers = (sqlite_platform.orders_url, running.plan.service("billing").base_url)
        failures_before = {url: jwks_fetch_failures(url) for url in verifiers}

        running.stop_process("auth")
        # both verifiers tried to refresh their JWKS from the stopped auth, and failed ...
        assert eventually(
            lambda: all(jwks_fetch_failures(url) > count for url, count in failures_before.items())
        )
        # ... and keep accepting the token for as long as it lives
        checks = 0
        while time.time() < expires_at - 2:
            assert accepted_everywhere(sqlite_platform, token)
            checks += 1
            time.sleep(1)
        assert checks > 0  # the token was checked with auth down, not only after it expired
        # then it is refused as expired, like any other token
        time.sleep(max(0.0, expires_at + VERIFIER_LEEWAY_SECONDS + 1 - time.time()))
        assert orders_status(sqlite_platform, token) == 401
        assert billing_code(sqlite_platform, token) == grpc.StatusCode.UNAUTHENTICATED
    finally:
        restart_auth(sqlite_platform, auth.settings)  # as the platform started it


def restart_auth(platform: KeyPlatform, settings: Mapping[str, str]) -> None:
    """auth started with `settings` (on the platform's database: the same keys), after the
    running one, if any, is stopped."""
    if "auth" in platform.running.processes:
        platform.running.stop_process("auth")
    auth = platform.running.plan.service("auth")
    platform.running.start_process("auth", auth.serve_argv, settings, ready_url=auth.health_url)


def jwks_fetch_failures(base_url: str) -> float:
    metrics = httpx.get(f"{base_url}/metrics", timeout=10).text
    match = re.search(r"^tessera_jwks_fetch_failures_total (\S+)$", metrics, re.M)
    return float(match.group(1)) if match else 0.0
