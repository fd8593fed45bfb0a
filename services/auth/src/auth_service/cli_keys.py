"""`python -m auth_service keys list|rotate`: the signing keys, by hand (DESIGN §5).

`keys rotate` is the same rotation the schedule makes: the `next` key (published long enough
that every verifier has it) becomes `active`, the active key is `retired` (still published
until its tokens have expired) and a new `next` key is published. If the next key is still too
young it waits for it (`--no-wait`: exit 3 instead). Two rotations at once (two operators, or an
operator and the schedule) make one: the second finds the key already rotated.

`keys rotate --revoke-current` is for a compromised key: it is removed from the JWKS at once
and a `key` revocation event tells every verifier to refuse it and the tokens it signed within
about a second. Users stay logged in: their clients refresh into tokens of the new key. The
command names the key it read as active and revokes exactly that one, so a retry, a second
operator, or a scheduled rotation in between never revokes the healthy replacement; `keys
revoke KID` revokes a key in any state (a retired key found compromised later, say).

These commands never create the first keys (auth does at its first start) and never generate a
development KEK: run them with auth's own settings (`docker compose exec auth ...`,
`kubectl exec ...`, or `make keys-rotate` for `make run`).

Kids are public (they are in every token header); nothing secret is ever printed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from tessera.service_cli import ServiceCommand, Subcommands

from auth_service.adapters.signing_key_store import KeySetOutcome, SigningKeyStore
from auth_service.adapters.storage import open_storage
from auth_service.bootstrap import signing_key_store_from
from auth_service.config import Settings
from auth_service.domain.key_lifecycle import RotationNotReadyError
from auth_service.domain.keys import KeyState
from auth_service.errors import KeyStoreError

EXIT_NOT_READY = 3
WAIT_RECHECK_SECONDS = 1.0


def _add(commands: Subcommands[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="list and rotate the signing keys").add_subparsers(
        dest="keys_command", required=True
    )
    keys.add_parser("list", help="every stored key with its state and timestamps")
    rotate = keys.add_parser("rotate", help="activate the next key, retire the active one")
    rotate.add_argument(
        "--revoke-current",
        action="store_true",
        help="emergency: remove the active key from the JWKS now and revoke its tokens",
    )
    rotate.add_argument(
        "--no-wait",
        action="store_true",
        help="fail (exit 3) instead of waiting while the next key is too young to sign",
    )
    revoke = keys.add_parser("revoke", help="emergency: remove one key (any state), revoke it")
    revoke.add_argument("kid", help="the key id, as `keys list` shows it")


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


async def _list(store: SigningKeyStore) -> str:
    lines = []
    for key in sorted(await store.records(), key=lambda k: (k.state.listing_order, k.created_at)):
        if key.state == KeyState.NEXT:
            timing = f"may sign from {_when(store.schedule.ready_at(key))}"
        elif key.state == KeyState.RETIRED:
            timing = f"published until {_when(store.schedule.removable_at(key))}"
        else:
            timing = f"active since {_when(key.activated_at)}"
        lines.append(f"{key.kid}\t{key.state.value}\tcreated {_when(key.created_at)}\t{timing}")
    return "\n".join(lines) or "no signing keys yet (auth creates them at its first start)"


def _next_line(outcome: KeySetOutcome) -> str:
    return f"next key {outcome.next} published, may sign from {_when(outcome.next_ready_at)}"


class NoKeysError(Exception):
    """Raised when the database holds no signing keys (auth has never started on it)."""


async def _active_kid(store: SigningKeyStore) -> str:
    active = [key.kid for key in await store.records() if key.state == KeyState.ACTIVE]
    if not active:
        raise NoKeysError("no signing keys yet: auth creates the first ones at its first start")
    return active[0]


async def _rotate(store: SigningKeyStore, *, no_wait: bool) -> tuple[int, str]:
    expected = await _active_kid(store)
    announced: datetime | None = None
    while True:
        try:
            outcome = await store.rotate(expected_active=expected)
        except RotationNotReadyError as exc:
            wait = (exc.ready_at - datetime.now(UTC)).total_seconds()
            if no_wait:
                return EXIT_NOT_READY, (
                    f"not rotated: the next key {exc.next_kid} was published too recently for "
                    f"every verifier to have it; it may sign from {_when(exc.ready_at)} "
                    f"(in {max(wait, 0):.0f} s). Run again then, or without --no-wait."
                )
            if exc.ready_at != announced:
                announced = exc.ready_at
                print(
                    f"waiting {max(wait, 0):.1f} s until every verifier can have the next key "
                    f"{exc.next_kid}",
                    file=sys.stderr,
                    flush=True,
                )
            # Re-read the keys while waiting: a rotation by someone else ends the wait at once.
            await asyncio.sleep(min(max(wait, 0) + 0.1, WAIT_RECHECK_SECONDS))
            continue
        if outcome.changes.already_rotated_to is not None or not outcome.changes.rotates:
            if outcome.changes.create_next:
                continue  # there was no next key: one is published now and must age first
            return 0, (
                f"already rotated by someone else: {outcome.active} active\n{_next_line(outcome)}"
            )
        return 0, (
            f"rotated: {outcome.changes.retire} retired (published until its tokens expire), "
            f"{outcome.changes.activate} active\n{_next_line(outcome)}"
        )


async def _revoke(store: SigningKeyStore, kid: str) -> tuple[int, str]:
    print(f"revoking {kid}", file=sys.stderr, flush=True)
    outcome = await store.revoke(kid)
    if outcome.changes.revoke is None:
        return 1, f"no key {kid} (already revoked or removed, or mistyped); nothing changed"
    return 0, (
        f"revoked {kid}: removed from the JWKS, and a key revocation event makes every "
        f"verifier refuse it and the tokens it signed\n{outcome.active} active\n"
        f"{_next_line(outcome)}"
    )


async def _run(settings: Settings, args: argparse.Namespace) -> tuple[int, str]:
    async with open_storage(settings.DATABASE_URL) as storage:
        store = signing_key_store_from(settings, storage, create_dev_key=False)
        if args.keys_command == "list":
            return 0, await _list(store)
        if args.keys_command == "revoke":
            return await _revoke(store, args.kid)
        if args.revoke_current:
            return await _revoke(store, await _active_kid(store))
        return await _rotate(store, no_wait=args.no_wait)


def _run_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        code, output = asyncio.run(_run(settings, args))
    except (KeyStoreError, NoKeysError) as exc:  # KEK missing or wrong, no keys, inconsistent
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except DBAPIError as exc:
        database = make_url(settings.DATABASE_URL).render_as_string(hide_password=True)
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
        print(
            f"error: cannot use auth's database {database}: {reason} "
            "(has `python -m auth_service migrate` run?)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was rotated", file=sys.stderr)
        return 130
    print(output, file=sys.stdout if code == 0 else sys.stderr)
    return code


KEYS_COMMAND = ServiceCommand[Settings]("keys", _add, _run_command)
