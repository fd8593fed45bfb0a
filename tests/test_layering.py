"""The rules of the layers hold: domain code, use cases and errors load no framework.

Each module is imported alone in a fresh interpreter (so nothing another test imported can
hide a dependency), which then reports which of FastAPI, Starlette, SQLAlchemy or gRPC ended up
in `sys.modules`. A module that pulls one in, directly or through an import chain (a
`tessera` re-export, an adapter), fails here with the chain's end named.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("fastapi", "starlette", "sqlalchemy", "grpc")
SERVICES = ("auth", "orders", "billing")


def _framework_free_modules() -> list[str]:
    """Every module of each service's domain/ and use cases, and its errors module."""
    modules = []
    for service in SERVICES:
        package = ROOT / "services" / service / "src" / f"{service}_service"
        for path in sorted(package.rglob("*.py")):
            relative = path.relative_to(package.parent).with_suffix("")
            parts = relative.parts
            in_layer = len(parts) > 1 and parts[1] in ("domain", "use_cases")
            if in_layer or parts[1:] in (("errors",), ("use_cases",)):
                modules.append(".".join(p for p in parts if p != "__init__"))
    return modules


MODULES = _framework_free_modules()

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
frameworks = json.loads(sys.argv[2])
print(json.dumps(sorted(n for n in frameworks if n in sys.modules)))
"""


def test_the_layers_are_found() -> None:
    # a refactoring that moves the layers must move this test with them
    assert {"auth_service.domain.sessions", "auth_service.use_cases.refresh"} <= set(MODULES)
    assert {"orders_service.use_cases", "billing_service.use_cases"} <= set(MODULES)
    assert "billing_service.errors" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_a_domain_or_use_case_module_loads_no_framework(module: str) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, module, json.dumps(FRAMEWORKS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout) == [], f"{module} loads a framework"
