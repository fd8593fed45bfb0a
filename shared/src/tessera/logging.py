"""Log lines with the request id and caller attached, and tokens scrubbed; JSON or for people.

Every record carries `service`, and `request_id` and `sub` when known (from the context
variables), then the record's own fields (`extra=`). `LOG_FORMAT` picks how a line looks:

- `json` (the default: compose, Kubernetes, tests), one object per line for a log collector:

      {"ts": "2025-05-01T09:30:12.345+00:00", "level": "INFO", "logger": "tessera.access",
       "service": "orders", "message": "GET /v1/orders 200", "request_id": "4f1c...", ...}

- `console` (`make run` on a terminal), one compact line in local time, leaving out the fields
  the message already says:

      09:30:12.345 INFO    orders  GET /v1/orders 200  request_id=4f1c... duration_ms=3.2

Anything shaped like a JWT or a `Bearer` credential is replaced with `[redacted]` before it is
written, in either format, as a last line of defence: code must still never log a token.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from tessera.context import current_principal_var, request_id_var

LogFormat = Literal["json", "console"]

_SECRETS = re.compile(
    r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+"
)
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message"}  # uvicorn's copy of the message with ANSI colours
)
_BARE_VALUE = re.compile(r"[^\s=\"]+")


def redact(text: str) -> str:
    """`text` with anything that looks like a bearer token or JWT replaced."""
    return _SECRETS.sub("[redacted]", text)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The request id and caller from the context, then the record's own fields."""
    fields: dict[str, Any] = {}
    request_id = request_id_var.get()
    if request_id is not None:
        fields["request_id"] = request_id
    principal = current_principal_var.get()
    if principal is not None:
        fields["sub"] = principal.sub
    for key, value in vars(record).items():
        if key not in _STANDARD_ATTRIBUTES and not key.startswith("_") and key not in fields:
            fields[key] = value
    return fields


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object per line."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "service": self._service,
            "message": redact(record.getMessage()),
        }
        for key, value in _fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return redact(json.dumps(entry, default=str))


class ConsoleFormatter(logging.Formatter):
    """Formats a record as one short line for a person at a terminal (a traceback follows it).

    A field whose value the message already says (the access log's method, path and status) is
    not repeated, nor one that is None; a value with spaces or quotes is written as a JSON
    string.
    """

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        message = record.getMessage()
        said = set(message.split())
        fields = " ".join(
            f"{key}={_console_value(value)}"
            for key, value in _fields(record).items()
            if value is not None and str(value) not in said
        )
        line = f"{when} {record.levelname:<7} {self._service}  {message}"
        if fields:
            line = f"{line}  {fields}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return redact(line)


def _console_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if _BARE_VALUE.fullmatch(text) else json.dumps(text)


def configure_logging(service: str, level: str = "INFO", log_format: LogFormat = "json") -> None:
    """Send every log record, uvicorn's and httpx's included, to stderr in one format.

    uvicorn's own access log is silenced: `install_service_defaults` writes a richer one. Run
    uvicorn with `log_config=None` so it does not reinstall its handlers.
    """
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter = (
        ConsoleFormatter(service) if log_format == "console" else JsonFormatter(service)
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "grpc", "httpx"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # 7 lines a migrate
