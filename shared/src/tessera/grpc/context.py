"""The caller of the gRPC call being served, as set by ServerAuthInterceptor."""

from __future__ import annotations

from tessera.context import current_principal_var
from tessera.tokens.principal import Principal


def grpc_principal() -> Principal:
    """The verified caller; LookupError when the call was not authenticated (a public method)."""
    principal = current_principal_var.get()
    if principal is None:
        raise LookupError("no authenticated principal for this call")
    return principal
