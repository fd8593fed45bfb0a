"""gRPC (grpc.aio) auth plumbing: server and client interceptors, and the caller's identity.

Example::

    server = grpc.aio.server(interceptors=[ServerAuthInterceptor(verifier)])
    channel = grpc.aio.insecure_channel(target, interceptors=[ClientAuthInterceptor(source)])
    # in a servicer method:
    principal = grpc_principal()
"""

from tessera.grpc.client import ClientAuthInterceptor, TokenSource, calling_with
from tessera.grpc.server import ServerAuthInterceptor, answers_service_errors, grpc_principal

__all__ = [
    "ClientAuthInterceptor",
    "ServerAuthInterceptor",
    "TokenSource",
    "answers_service_errors",
    "calling_with",
    "grpc_principal",
]
