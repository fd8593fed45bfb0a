"""Service-client secrets for a local platform: random per run, files of mode 0600, never printed.

orders and billing are confidential clients of auth (DESIGN §6). auth reads every client's secret
from one JSON file (`SERVICE_CLIENTS_FILE`: `{"orders": "...", "billing": "..."}`) and hashes it;
each service reads only its own secret (`SERVICE_CLIENT_SECRET_FILE`). The launcher and the test
harness write fresh files into their var directory before each start; `make secrets` writes the
same files into `deploy/secrets/` for docker compose:

    python -m tessera_dev.service_clients deploy/secrets
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SERVICE_CLIENT_IDS = ("orders", "billing")
CLIENTS_FILE_NAME = "service-clients.json"


def secret_file_name(client_id: str) -> str:
    return f"{client_id}-client-secret"


@dataclass(frozen=True)
class ServiceClientFiles:
    """Where auth's client table and each service's own secret live."""

    clients_file: Path
    secret_files: dict[str, Path]

    @classmethod
    def in_directory(cls, directory: Path) -> ServiceClientFiles:
        """The file layout inside `directory` (the files need not exist yet)."""
        return cls(
            clients_file=directory / CLIENTS_FILE_NAME,
            secret_files={c: directory / secret_file_name(c) for c in SERVICE_CLIENT_IDS},
        )


def write_private_file(path: Path, text: str, mode: int = 0o600) -> None:
    """Replace `path` atomically with a file of `mode` (default: only its owner can read it)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(text)
        os.chmod(temporary, mode)  # the umask may have narrowed it
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def generate_service_client_secrets(directory: Path, file_mode: int = 0o600) -> ServiceClientFiles:
    """Fresh random secrets for every service client, written into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    files = ServiceClientFiles.in_directory(directory.resolve())
    table = {client_id: secrets.token_urlsafe(32) for client_id in SERVICE_CLIENT_IDS}
    for client_id, secret in table.items():
        write_private_file(files.secret_files[client_id], secret + "\n", file_mode)
    write_private_file(files.clients_file, json.dumps(table, indent=2) + "\n", file_mode)
    return files


def main(argv: Sequence[str] | None = None) -> int:
    """`make secrets`: write fresh service-client secrets into a directory (compose mounts them)."""
    args = list(sys.argv[1:] if argv is None else argv)
    directory = Path(args[0] if args else "deploy/secrets")
    # Compose bind-mounts each file into a container whose user (uid 10001) is not the host
    # user, so the files are world-readable and the directory is what keeps other host users
    # out (mode 0700); inside a container, each service is given only its own file.
    generate_service_client_secrets(directory, file_mode=0o644)
    directory.chmod(0o700)
    names = [CLIENTS_FILE_NAME, *map(secret_file_name, SERVICE_CLIENT_IDS)]
    print(f"wrote {', '.join(names)} into {directory}/ (restart the services to rotate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
