"""Request and response bodies of the public API.

Every request body has an example, shown and sent by "Try it out" in `/docs`: one user,
`grace@example.org` with the password `correct horse battery staple` (not the README's
`ada@example.org`: trying the password change here must not break the README's commands).
Tokens are shown by their prefix only (`tsv_…`, `tsm_…`): paste a real one.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    JsonValue,
    model_validator,
)

from auth_service.domain.mfa import PASSWORD, MfaMethod, Proof
from auth_service.domain.passkeys import Passkey
from auth_service.domain.sessions import ClientId, Session
from auth_service.domain.users import Role, User

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
EXAMPLE_EMAIL = "grace@example.org"
EXAMPLE_PASSWORD = "correct horse battery staple"  # noqa: S105 (the docs' example)
EXAMPLE_NEW_PASSWORD = "staple battery horse correct"  # noqa: S105 (the docs' example)


class RegisterRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": EXAMPLE_EMAIL, "password": EXAMPLE_PASSWORD}]},
    )

    email: EmailStr = Field(
        max_length=320,
        description="An email address; special-use domains (RFC 6761, e.g. `.test`, "
        "`.invalid`, `.localhost`) and IP literals are refused with 422.",
    )
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)


class RegisteredResponse(BaseModel):
    """The same for a new address and a taken one: the mail tells the owner which it was."""

    email: str
    status: Literal["verification_sent"] = "verification_sent"


class UserResponse(BaseModel):
    id: uuid.UUID
    email: str
    email_verified: bool
    roles: list[str]
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserResponse:
        return cls(
            id=user.id,
            email=user.email,
            email_verified=user.email_verified,
            roles=sorted(user.roles),
            created_at=user.created_at,
        )


MAX_EMAIL_TOKEN_FIELD = 1024
"""Generous on purpose: a malformed token (too long included) gets the one 400 text, not a
422 that would tell a made-up token from a used one."""


class EmailTokenRequest(BaseModel):
    """A token from a mailed link; any string, refused with one text if it cannot be used."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"token": "tsv_…"}]})

    token: str = Field(min_length=1, max_length=MAX_EMAIL_TOKEN_FIELD)


class EmailRequest(BaseModel):
    """An address to mail (a resent verification, a reset); never validated beyond its
    length, and answered alike whether it has an account or not."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"email": EXAMPLE_EMAIL}]}
    )

    email: str = Field(min_length=1, max_length=320)


class PasswordResetConfirmRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"token": "tsp_…", "new_password": EXAMPLE_NEW_PASSWORD}]},
    )

    token: str = Field(min_length=1, max_length=MAX_EMAIL_TOKEN_FIELD)
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)


class LoginRequest(BaseModel):
    # mobile: the answer carries both tokens; web also needs the login-CSRF token (`/csrf`)
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"email": EXAMPLE_EMAIL, "password": EXAMPLE_PASSWORD, "client_id": "mobile"}
            ]
        },
    )

    # not EmailStr: a malformed email is just another bad credential (401), not a 422
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    client_id: ClientId


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (RFC 6750 token type)
    expires_in: int
    # mobile only; web gets it as an HttpOnly cookie
    refresh_token: str | None = None


class CsrfResponse(BaseModel):
    csrf_token: str


class SessionResponse(BaseModel):
    """One of the caller's sessions (read from the domain's `Session`), `current` if the
    caller's token is of it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    user_agent: str | None
    ip: str | None
    created_at: datetime
    last_used_at: datetime
    current: bool = False

    @classmethod
    def of(cls, session: Session, *, current: bool) -> SessionResponse:
        return cls.model_validate(session).model_copy(update={"current": current})


class SessionListResponse(BaseModel):
    items: list[SessionResponse]


MAX_CODE_LENGTH = 64
"""A TOTP code is 6 digits and a recovery code 19 characters; anything up to this is refused as
a wrong code (401/403), longer as malformed (422)."""


class SecondFactorFields(BaseModel):
    """A second factor in a body: a TOTP code, a recovery code, or a passkey's answer (the
    `challenge_id` of `POST /v1/auth/passkey/options`, and the `credential` it signed)."""

    code: str | None = Field(default=None, min_length=1, max_length=MAX_CODE_LENGTH)
    recovery_code: str | None = Field(default=None, min_length=1, max_length=MAX_CODE_LENGTH)
    challenge_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CODE_LENGTH,
        description="A passkey: the `challenge_id` of `POST /v1/auth/passkey/options`",
    )
    credential: OptionalBoundedCredential = Field(default=None, description="The passkey's answer")

    def proof(self) -> Proof:
        """The one second factor given (the request's validator made sure of one)."""
        if self.code is not None:
            return Proof(MfaMethod.TOTP, self.code)
        if self.recovery_code is not None:
            return Proof(MfaMethod.RECOVERY_CODE, self.recovery_code)
        assert self.challenge_id is not None  # the validators ask for both or neither
        assert self.credential is not None
        return Proof(MfaMethod.PASSKEY, challenge_id=self.challenge_id, credential=self.credential)

    def _passkey_given(self) -> bool:
        passkey = self.challenge_id is not None or self.credential is not None
        if passkey and (self.challenge_id is None or self.credential is None):
            raise ValueError("a passkey gives both challenge_id and credential")
        return passkey


class StepUpRequest(SecondFactorFields):
    """Authenticate again in this session: exactly one of the password (an account without a
    second factor), a TOTP code, a recovery code or a passkey (an account with one)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"password": EXAMPLE_PASSWORD}]}
    )

    password: str | None = Field(default=None, min_length=1, max_length=MAX_PASSWORD_LENGTH)

    @model_validator(mode="after")
    def _exactly_one(self) -> StepUpRequest:
        given = [value for value in (self.password, self.code, self.recovery_code) if value]
        if len(given) + self._passkey_given() != 1:
            raise ValueError("give exactly one of password, code, recovery_code, a passkey")
        return self

    def proof(self) -> Proof:
        return Proof(PASSWORD, self.password) if self.password else super().proof()


class MfaLoginRequest(SecondFactorFields):
    """The second step of a login: the `mfa_token` of the first, and a second factor."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"mfa_token": "tsm_…", "client_id": "mobile", "code": "123456"}]
        },
    )

    mfa_token: str = Field(min_length=1, max_length=MAX_CODE_LENGTH)
    client_id: ClientId

    @model_validator(mode="after")
    def _exactly_one(self) -> MfaLoginRequest:
        given = (self.code is not None) + (self.recovery_code is not None)
        if given + self._passkey_given() != 1:
            raise ValueError("give exactly one of code, recovery_code, a passkey")
        return self


class MfaStatusResponse(BaseModel):
    totp: Literal["off", "pending", "on"]
    recovery_codes_left: int


class TotpEnrolmentResponse(BaseModel):
    """A pending factor: add it to an authenticator app, then confirm it with a code."""

    secret: str
    otpauth_uri: str
    qr_svg: str = Field(description="The `otpauth_uri` as a QR code, a standalone SVG document")


class TotpConfirmRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "123456"}]})

    code: str = Field(min_length=1, max_length=MAX_CODE_LENGTH)


class RecoveryCodesResponse(BaseModel):
    """Shown once: only their HMACs are stored."""

    recovery_codes: list[str]


class TotpConfirmedResponse(RecoveryCodesResponse):
    """The recovery codes, and an access token of the session now at acr mfa."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (RFC 6750 token type)
    expires_in: int


class PasswordChangeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"current_password": EXAMPLE_PASSWORD, "new_password": EXAMPLE_NEW_PASSWORD}
            ]
        },
    )

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)


class RolesRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"roles": ["user", "admin"]}]}
    )

    roles: list[Role] = Field(max_length=8)


MAX_CREDENTIAL_FIELD = 16_384
"""A WebAuthn credential's JSON, at most (an attestation with its certificates is a few KiB)."""


def _credential_of_bounded_size(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(json.dumps(value, separators=(",", ":"))) > MAX_CREDENTIAL_FIELD:
        raise ValueError(f"a credential is at most {MAX_CREDENTIAL_FIELD} bytes of JSON")
    return value


BoundedCredential = Annotated[dict[str, Any], AfterValidator(_credential_of_bounded_size)]
OptionalBoundedCredential = Annotated[
    dict[str, Any] | None, AfterValidator(_credential_of_bounded_size)
]


class PasskeyOptionsResponse(BaseModel):
    """A ceremony's options: `publicKey` goes to `navigator.credentials.create()` / `.get()`
    (base64url fields decoded), `challenge_id` comes back with the answer."""

    model_config = ConfigDict(populate_by_name=True)

    challenge_id: str
    public_key: dict[str, Any] = Field(alias="publicKey")


EXAMPLE_ATTESTATION: dict[str, JsonValue] = {
    "id": "q2bZ3xS1Ym4Pz7Q0e5Vw8A",
    "rawId": "q2bZ3xS1Ym4Pz7Q0e5Vw8A",
    "type": "public-key",
    "response": {
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwi…",
        "attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YV…",
        "transports": ["internal"],
    },
    "clientExtensionResults": {},
    "authenticatorAttachment": "platform",
}
"""What `navigator.credentials.create()` answers (`toJSON()`), shortened."""

EXAMPLE_ASSERTION: dict[str, JsonValue] = {
    "id": "q2bZ3xS1Ym4Pz7Q0e5Vw8A",
    "rawId": "q2bZ3xS1Ym4Pz7Q0e5Vw8A",
    "type": "public-key",
    "response": {
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0Iiwi…",
        "authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ",
        "signature": "MEUCIQC…",
        "userHandle": "N2Y0YzFlOWEtM2I1ZC00…",
    },
    "clientExtensionResults": {},
    "authenticatorAttachment": "platform",
}
"""What `navigator.credentials.get()` answers (`toJSON()`), shortened."""


class PasskeyRegistrationRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"challenge_id": "wac_…", "credential": EXAMPLE_ATTESTATION, "name": "This laptop"}
            ]
        },
    )

    challenge_id: str = Field(min_length=1, max_length=64)
    credential: BoundedCredential = Field(
        description="The PublicKeyCredential's JSON (`toJSON()`), base64url"
    )
    name: str = Field(default="Passkey", max_length=64)


class PasskeyOptionsRequest(BaseModel):
    """Options for the MFA step of a password login: its `mfa_token`."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"mfa_token": "tsm_…"}]}
    )

    mfa_token: str = Field(min_length=1, max_length=MAX_CODE_LENGTH)


class PasskeySignInRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"challenge_id": "wac_…", "credential": EXAMPLE_ASSERTION, "client_id": "web"}
            ]
        },
    )

    challenge_id: str = Field(min_length=1, max_length=64)
    credential: BoundedCredential
    client_id: Literal["web"] = Field(
        description="Browsers only: a native app uses its platform's passkey APIs"
    )


class PasskeyResponse(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    synced: bool
    flagged: bool

    @classmethod
    def of(cls, passkey: Passkey) -> PasskeyResponse:
        return cls(
            id=passkey.id,
            name=passkey.name,
            created_at=passkey.created_at,
            last_used_at=passkey.last_used_at,
            synced=passkey.synced,
            flagged=passkey.flagged_at is not None,
        )


class PasskeyListResponse(BaseModel):
    items: list[PasskeyResponse]
