"""gRPC (grpc.aio) auth plumbing: server and client interceptors, and the caller's identity.

Example::

    server = grpc.aio.server(interceptors=[ServerAuthInterceptor(verifier)])
    channel = grpc.aio.insecure_channel(target, interceptors=[ClientAuthInterceptor(source)])
    # in a servicer method:
    principal = grpc_principal()
"""

from tessera.grpc.client import ClientAuthInterceptor, forward_current_token
from tessera.grpc.context import grpc_principal
from tessera.grpc.server import PUBLIC_METHOD_PREFIXES, ServerAuthInterceptor

__all__ = [
    "PUBLIC_METHOD_PREFIXES",
    "ClientAuthInterceptor",
    "ServerAuthInterceptor",
    "forward_current_token",
    "grpc_principal",
]
