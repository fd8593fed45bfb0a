"""Both resource services refuse the embedded default's conveniences in production.

orders and billing take these settings from `tessera.ResourceServerSettings`; each is checked
through its own Settings class, as it starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from billing_service.config import Settings as BillingSettings
from orders_service.config import Settings as OrdersSettings
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("settings_class", "service"), [(OrdersSettings, "orders"), (BillingSettings, "billing")]
)
def test_production_refuses_to_start_without_service_credentials(
    tmp_path: Path, settings_class: type[OrdersSettings | BillingSettings], service: str
) -> None:
    production: dict[str, Any] = {
        "ENVIRONMENT": "production",
        "DATABASE_URL": f"postgresql+asyncpg://{service}@db/{service}",
        "ISSUER": "https://tessera.example",
    }
    with pytest.raises(ValidationError, match="SERVICE_CLIENT_SECRET_FILE"):
        settings_class(**production)
    secret = tmp_path / f"{service}-secret"
    secret.write_text("s3cret\n", encoding="utf-8")
    configured = settings_class(**production, SERVICE_CLIENT_SECRET_FILE=secret)
    assert (configured.service_client_secret(), configured.token_url) == (
        "s3cret",
        "http://127.0.0.1:8001/v1/auth/token",
    )
