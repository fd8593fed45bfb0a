"""ForwardedHeadersMiddleware: the caller's address, believing X-Forwarded-For only from proxies.

Sessions, the audit log and rate limits key on the caller's IP, so a forged X-Forwarded-For must
never count. The rule, applied once to every request before anything reads `scope["client"]`:

- a peer that is not in `TRUSTED_PROXIES` is the caller; its X-Forwarded-For and
  X-Forwarded-Proto are ignored (the default trusts no peer at all);
- from a trusted proxy, the caller is the right-most X-Forwarded-For hop that is not itself a
  trusted proxy, and `X-Forwarded-Proto` (http or https) is the scheme;
- a trusted proxy's X-Forwarded-For with a hop that is not an IP address is refused with 400:
  the gateways only ever send the peer they saw, so something else wrote it.

uvicorn's own proxy-header handling is off (`tessera.service_cli.serve`): it believes any
string, `not-an-ip<script>` included, and would store it as the session's IP.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from tessera.http.problems import problem_response

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(value: str) -> IpAddress | None:
    """The address in `value` (an IPv6 address may come in brackets), or None."""
    candidate = value.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


class ForwardedHeadersMiddleware:
    """Sets `scope["client"]` (and `scope["scheme"]`) by the rule in the module docstring."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Iterable[str]) -> None:
        """`trusted_proxies`: addresses or networks; anything else is a `ValueError`."""
        self.app = app
        self._trusted: tuple[IpNetwork, ...] = tuple(
            ipaddress.ip_network(entry.strip(), strict=False) for entry in trusted_proxies
        )

    def _trusts(self, address: IpAddress | None) -> bool:
        return address is not None and any(address in network for network in self._trusted)

    def _is_trusted(self, host: str | None) -> bool:
        return self._trusts(parse_ip(host) if host else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._trusted:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if not client or not self._is_trusted(client[0]):
            await self.app(scope, receive, send)
            return
        forwarded_for = b", ".join(v for n, v in scope["headers"] if n == b"x-forwarded-for")
        hops = [hop.strip() for hop in forwarded_for.decode("latin-1").split(",") if hop.strip()]
        addresses = [parse_ip(hop) for hop in hops]
        if None in addresses:
            refusal = problem_response(400, "Bad Request", "X-Forwarded-For holds a non-address")
            await refusal(scope, receive, send)
            return
        caller = next((str(a) for a in reversed(addresses) if not self._trusts(a)), None)
        if caller is not None:
            scope["client"] = (caller, 0)
        for name, value in scope["headers"]:
            if name == b"x-forwarded-proto" and value in (b"http", b"https"):
                scope["scheme"] = value.decode("ascii")
        await self.app(scope, receive, send)
