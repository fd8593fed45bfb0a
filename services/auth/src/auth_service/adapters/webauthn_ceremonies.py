"""The WebAuthn cryptography, through py_webauthn: options to send, answers to verify.

The relying party is fixed by settings (`WEBAUTHN_RP_ID`, `WEBAUTHN_ORIGIN`, defaulting from
the issuer), never taken from a request, so a page on another origin (a phishing copy) gets
answers that fail here. User verification is required in every ceremony. Counters are checked
by the use case (`domain/passkeys.sign_count_acceptable`) after the signature, so only a
genuinely signed counter can flag a passkey.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.parse_authentication_credential_json import (
    parse_authentication_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from auth_service.domain.passkeys import CHALLENGE_LIFETIME, Ceremony, Passkey
from auth_service.errors import PasskeyRejectedError, PasskeySignInError

TIMEOUT_MS = int(CHALLENGE_LIFETIME.total_seconds() * 1000)


@dataclass(frozen=True)
class RegisteredCredential:
    credential_id: bytes
    public_key: bytes = field(repr=False)
    sign_count: int
    synced: bool


@dataclass(frozen=True)
class RelyingParty:
    rp_id: str
    origin: str
    name: str = "Tessera"

    def creation_options(
        self,
        ceremony: Ceremony,
        *,
        user_id: uuid.UUID,
        user_name: str,
        exclude: Sequence[bytes],
    ) -> dict[str, Any]:
        """`publicKey` for `navigator.credentials.create()`: a discoverable credential with
        user verification, none of the user's existing ones again."""
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.name,
            user_name=user_name,
            user_id=user_id.bytes,
            user_display_name=user_name,
            challenge=ceremony.challenge,
            timeout=TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=item) for item in exclude],
        )
        return options_to_json_dict(options)

    def request_options(self, ceremony: Ceremony, *, allow: Sequence[bytes]) -> dict[str, Any]:
        """`publicKey` for `navigator.credentials.get()`; `allow` empty: any discoverable one."""
        options = generate_authentication_options(
            rp_id=self.rp_id,
            challenge=ceremony.challenge,
            timeout=TIMEOUT_MS,
            allow_credentials=[PublicKeyCredentialDescriptor(id=item) for item in allow],
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return options_to_json_dict(options)

    def verify_registration(
        self, ceremony: Ceremony, credential: dict[str, Any]
    ) -> RegisteredCredential:
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=ceremony.challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError) as error:
            raise PasskeyRejectedError(_reason(error)) from None
        return RegisteredCredential(
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            synced=verified.credential_device_type is CredentialDeviceType.MULTI_DEVICE,
        )

    def credential_id_of(self, credential: dict[str, Any]) -> tuple[bytes, bytes | None]:
        """The credential id an assertion names, and its user handle (None if absent)."""
        try:
            parsed = parse_authentication_credential_json(credential)
        except (WebAuthnException, ValueError, KeyError, TypeError) as error:
            raise PasskeyRejectedError(_reason(error)) from None
        return parsed.raw_id, parsed.response.user_handle

    def verify_assertion(
        self, ceremony: Ceremony, credential: dict[str, Any], passkey: Passkey
    ) -> int:
        """The counter the authenticator signed, if the assertion is the passkey's answer to
        this ceremony's challenge, from our origin, with the user verified."""
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=ceremony.challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=0,  # checked by the use case, after this
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError) as error:
            raise PasskeySignInError(_reason(error)) from None
        return int(verified.new_sign_count)


def _reason(error: Exception) -> str:
    """A short, safe reason (the library's texts name what did not match, never a secret)."""
    text = str(error).strip() or type(error).__name__
    return f"the passkey's answer was refused: {text[:160]}"
