"""ServiceError: the base of every service's exception tree, and how a failure is answered.

Each service's `errors.py` declares its tree on this base, one class per failure, with how it
leaves over HTTP and gRPC as class keywords, and imports no framework::

    class OrdersError(ServiceError, title="Orders error"):
        \"\"\"Base of every failure the orders service reports.\"\"\"

    class OrderNotFoundError(OrdersError, http_status=404, title="Order not found"):
        \"\"\"Raised for an unknown order and for anybody else's.\"\"\"

The framework glue maps the whole tree once: `tessera.http` answers RFC 9457 problem+json with
`http_status`, `title` and the detail (plus `Retry-After` and `WWW-Authenticate` when set);
`tessera.grpc` aborts with `grpc_code` and the detail. `str(error)` is always safe to show.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    """A failure the service reports to its caller on purpose (never a bug)."""

    http_status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    grpc_code: ClassVar[str] = "INTERNAL"
    """The `grpc.StatusCode` name (a plain string, so no module here imports gRPC)."""
    problem_type: ClassVar[str] = "about:blank"
    retry_after: int | None = None
    """Seconds after which a retry may succeed (`Retry-After`), when one may."""
    www_authenticate: str | None = None
    """An RFC 6750 challenge for a 401 or 403 (`WWW-Authenticate`)."""

    def __init_subclass__(
        cls,
        *,
        http_status: int | None = None,
        title: str | None = None,
        grpc_code: str | None = None,
        problem_type: str | None = None,
        retry_after: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if http_status is not None:
            cls.http_status = http_status
        if title is not None:
            cls.title = title
        if grpc_code is not None:
            cls.grpc_code = grpc_code
        if problem_type is not None:
            cls.problem_type = problem_type
        if retry_after is not None:
            cls.retry_after = retry_after

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title

    def headers(self) -> dict[str, str]:
        """The HTTP headers this answer carries."""
        headers: dict[str, str] = {}
        if self.www_authenticate:
            headers["WWW-Authenticate"] = self.www_authenticate
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers

    def extensions(self) -> dict[str, Any]:
        """Extra members of the problem+json body (none by default)."""
        return {}
