"""`python -m tessera_dev.grpc_call`: call a gRPC method by its name, as grpcurl does, with the
project's own Python (Debian packages no grpcurl, and PyPI has no wheel of it worth trusting).

The method's messages come from the server's reflection, so nothing is compiled in: any server
that enables reflection (billing does) can be called. Plaintext only (a development tool, for
loopback ports such as `make run`'s billing on 127.0.0.1:50051); unary methods only.

    python -m tessera_dev.grpc_call 127.0.0.1:50051 list
    python -m tessera_dev.grpc_call 127.0.0.1:50051 grpc.health.v1.Health/Check
    python -m tessera_dev.grpc_call -H "authorization: Bearer $TOKEN" -d '{"page_size": 10}' \\
        127.0.0.1:50051 tessera.billing.v1.BillingService/ListInvoices

The request is protobuf's JSON (`-d`, `{}` when left out); the answer is printed as JSON. A
status other than OK is printed on stderr with its trailing metadata (billing's
`www-authenticate` challenge, say), and the exit code is 1; a usage error exits 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.message import Message
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

EXIT_FAILED, EXIT_USAGE = 1, 2


class CallError(Exception):
    """Raised for a method that cannot be called as asked (unknown, streaming, bad JSON)."""


def _metadata(headers: Sequence[str]) -> list[tuple[str, str]]:
    """`-H "name: value"` lines as gRPC metadata (names are lower case on the wire)."""
    pairs = []
    for header in headers:
        name, separator, value = header.partition(":")
        if not separator or not name.strip():
            raise CallError(f"-H {header!r}: expected 'name: value'")
        pairs.append((name.strip().lower(), value.strip()))
    return pairs


def list_services(channel: grpc.Channel) -> list[str]:
    """The services the server names through reflection, sorted."""
    return sorted(ProtoReflectionDescriptorDatabase(channel).get_services())


def call(
    channel: grpc.Channel,
    method: str,
    request_json: str,
    *,
    metadata: Sequence[tuple[str, str]] = (),
    timeout: float = 10.0,
) -> str:
    """Call `package.Service/Method` with `request_json`; the answer as JSON.

    Raises `CallError` for a method the server does not describe, and `grpc.RpcError` for a
    status other than OK.
    """
    service_name, separator, method_name = method.rpartition("/")
    if not separator:
        service_name, _, method_name = method.rpartition(".")
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    try:
        service = pool.FindServiceByName(service_name)
    except KeyError as exc:
        raise CallError(f"the server does not describe the service {service_name!r}") from exc
    described = service.methods_by_name.get(method_name)
    if described is None:
        raise CallError(f"{service_name} has no method {method_name!r}")
    if described.client_streaming or described.server_streaming:
        raise CallError(f"{method}: only unary methods can be called")
    request_class = message_factory.GetMessageClass(described.input_type)
    response_class = message_factory.GetMessageClass(described.output_type)
    try:
        request = json_format.Parse(request_json or "{}", request_class())
    except json_format.ParseError as exc:
        raise CallError(f"-d: not a {described.input_type.full_name}: {exc}") from exc
    stub = channel.unary_unary(
        f"/{service.full_name}/{described.name}",
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    response: Message = stub(request, metadata=list(metadata), timeout=timeout)
    return json_format.MessageToJson(response, indent=2)


def _failure(error: grpc.RpcError) -> str:
    lines = [f"ERROR: {error.code().name}: {error.details()}"]
    lines += [f"  {key}: {value}" for key, value in error.trailing_metadata() or ()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tessera_dev.grpc_call",
        description="Call a unary gRPC method by name through the server's reflection "
        "(plaintext), or list its services.",
    )
    parser.add_argument(
        "-H", dest="headers", action="append", default=[], help="metadata 'name: value'"
    )
    parser.add_argument("-d", dest="data", default="{}", help="the request as JSON")
    parser.add_argument("--max-time", type=float, default=10.0, help="deadline in seconds")
    parser.add_argument("address", help="host:port, e.g. 127.0.0.1:50051")
    parser.add_argument("method", help="package.Service/Method, or `list`")
    args = parser.parse_args(argv)
    try:
        metadata = _metadata(args.headers)
        with grpc.insecure_channel(args.address) as channel:
            if args.method == "list":
                print("\n".join(list_services(channel)))
            else:
                print(
                    call(channel, args.method, args.data, metadata=metadata, timeout=args.max_time)
                )
    except CallError as exc:
        print(f"grpc_call: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except grpc.RpcError as exc:
        print(_failure(exc), file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
