"""A software passkey for tests and the demo: what a platform authenticator does, in Python.

It answers the WebAuthn options auth sends (`{"challenge_id", "publicKey": {...}}`, base64url)
with the credential JSON a browser's `navigator.credentials.create()` / `.get()` would give
the SPA: attestation `none`, an ES256 (P-256) key, user presence and verification flagged,
and a signature counter. Test-only: it lives in the dev tools, never in a service, and the
browser tests use Chromium's own virtual authenticator instead.

    passkey = SoftwarePasskey(origin="http://localhost:8000")
    credential = passkey.register(options["publicKey"])   # POST /v1/users/me/passkeys
    assertion = passkey.sign_in(options["publicKey"])     # POST /v1/auth/passkey/login
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
"""Authenticator-data flags: user present, user verified, backup eligible, backed up,
attested credential data included."""
ES256 = -7


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftwarePasskey:
    """One credential on one authenticator. `synced`: a passkey that syncs between devices
    (backed up; its counter stays 0, as synced passkeys report); `origin`: where the browser
    says the page came from (a phishing page would have another)."""

    def __init__(self, *, origin: str, synced: bool = False, user_verified: bool = True) -> None:
        self.origin = origin
        self.synced = synced
        self.user_verified = user_verified
        self.credential_id = os.urandom(16)
        self.sign_count = 0
        self.user_handle: bytes | None = None
        self._key = ec.generate_private_key(ec.SECP256R1())

    def __repr__(self) -> str:
        return f"SoftwarePasskey(id={b64url(self.credential_id)[:6]}…, synced={self.synced})"

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    def clone(self) -> SoftwarePasskey:
        """The same key and counter on a second authenticator (what a cloned key looks like)."""
        twin = SoftwarePasskey(origin=self.origin, synced=self.synced)
        twin.credential_id, twin.sign_count, twin.user_handle = (
            self.credential_id,
            self.sign_count,
            self.user_handle,
        )
        twin._key = self._key
        return twin

    def register(self, options: dict[str, Any], *, rp_id: str | None = None) -> dict[str, Any]:
        """The answer to creation options, as `navigator.credentials.create()` gives it."""
        self.user_handle = b64url_decode(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options["challenge"])
        public = self._key.public_key().public_numbers()
        cose_key = cbor2.dumps(
            {
                1: 2,
                3: ES256,
                -1: 1,
                -2: public.x.to_bytes(32, "big"),
                -3: public.y.to_bytes(32, "big"),
            }
        )
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
        auth_data = self._auth_data(rp_id or options["rp"]["id"], AT) + attested + cose_key
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def sign_in(self, options: dict[str, Any], *, rp_id: str | None = None) -> dict[str, Any]:
        """The answer to request options, as `navigator.credentials.get()` gives it."""
        if not self.synced:
            self.sign_count += 1
        client_data = self._client_data("webauthn.get", options["challenge"])
        auth_data = self._auth_data(rp_id or options["rpId"], 0)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self._key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(self.user_handle or b""),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def _client_data(self, kind: str, challenge: str) -> bytes:
        body = {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        return json.dumps(body, separators=(",", ":")).encode("utf-8")

    def _auth_data(self, rp_id: str, extra_flags: int) -> bytes:
        flags = UP | extra_flags | (UV if self.user_verified else 0)
        if self.synced:
            flags |= BE | BS
        rp_id_hash = hashlib.sha256(rp_id.encode("utf-8")).digest()
        return rp_id_hash + bytes([flags]) + struct.pack(">I", self.sign_count)
