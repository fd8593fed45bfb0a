"""The pure parts of second factors: which TOTP step a code is, recovery codes, sealed secrets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pyotp
from auth_service.domain.mfa import (
    MfaSecrets,
    TotpFactor,
    issue_mfa_token,
    matching_step,
    new_recovery_codes,
    new_totp_secret,
    provisioning_uri,
)

NOW = 1_800_000_015.0  # 15 s into step 60_000_000
STEP = 60_000_000


def test_a_code_matches_its_own_step_within_one_step_of_skew_and_nothing_else() -> None:
    secret = new_totp_secret()
    totp = pyotp.TOTP(secret)

    matched = {
        offset: matching_step(secret, totp.at((STEP + offset) * 30), now=NOW)
        for offset in (-2, -1, 0, 1, 2)
    }

    assert matched == {-2: None, -1: STEP - 1, 0: STEP, 1: STEP + 1, 2: None}


def test_a_code_may_carry_spaces_but_nothing_but_six_digits() -> None:
    secret = new_totp_secret()
    code = pyotp.TOTP(secret).at(NOW)

    assert matching_step(secret, f" {code[:3]} {code[3:]} ", now=NOW) == STEP
    for malformed in ("", code[:5], code + "0", "abcdef", "١٢٣٤٥٦"):  # Arabic-Indic digits too
        assert matching_step(secret, malformed, now=NOW) is None


def test_recovery_codes_are_ten_distinct_and_their_hash_ignores_case_and_dashes() -> None:
    codes = new_recovery_codes()
    secrets = MfaSecrets(bytes(32))
    user = uuid.uuid4()

    assert len(set(codes)) == 10
    assert all(len(code) == 19 and code.count("-") == 3 for code in codes)
    assert secrets.recovery_code_hash(user, codes[0]) == secrets.recovery_code_hash(
        user, codes[0].upper().replace("-", " ")
    )
    # bound to the user and to the key-encryption key: a table alone cannot be searched
    assert secrets.recovery_code_hash(user, codes[0]) != secrets.recovery_code_hash(
        uuid.uuid4(), codes[0]
    )
    assert secrets.recovery_code_hash(user, codes[0]) != MfaSecrets(
        b"\x01" * 32
    ).recovery_code_hash(user, codes[0])


def test_a_sealed_secret_opens_only_for_its_user_under_its_key() -> None:
    secrets = MfaSecrets(bytes(32))
    user = uuid.uuid4()
    sealed = secrets.seal_totp_secret(user, "JBSWY3DPEHPK3PXP")
    at = datetime.now(UTC)

    assert secrets.open_totp_secret(TotpFactor(user, sealed, at)) == "JBSWY3DPEHPK3PXP"
    assert secrets.open_totp_secret(TotpFactor(uuid.uuid4(), sealed, at)) is None
    assert MfaSecrets(b"\x01" * 32).open_totp_secret(TotpFactor(user, sealed, at)) is None


def test_the_provisioning_uri_names_the_issuer_and_the_account() -> None:
    secret = new_totp_secret()
    uri = provisioning_uri(secret, "ada@example.com")

    assert uri.startswith("otpauth://totp/Tessera:ada%40example.com?")
    assert f"secret={secret}" in uri
    assert "issuer=Tessera" in uri


def test_an_mfa_token_is_bound_to_its_client_and_lives_five_minutes() -> None:
    at = datetime.fromtimestamp(NOW, UTC)
    token, challenge = issue_mfa_token(uuid.uuid4(), "mobile", now=at)

    assert token.startswith("tsm_")
    assert challenge.usable(client_id="mobile", now=at)
    assert not challenge.usable(client_id="web", now=at)
    assert not challenge.usable(client_id="mobile", now=challenge.expires_at)
    assert (challenge.expires_at - at).total_seconds() == 300
