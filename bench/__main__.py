"""`make bench`: run every benchmark module and print one table.

Ratios are what to read: absolute rates depend on the machine, ratios measured in the same run
on the same machine do not (much).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from collections.abc import Callable

BENCHMARKS = (
    "bench.verifier",
    "bench.http_auth",
    "bench.revocation",
    "bench.refresh",
    "bench.grpc_exchange",
    "bench.revocation_delay",
)
"""In table order; a module not written yet is left out (each lands with its feature)."""


def main() -> int:
    rows: list[tuple[str, str, str]] = []
    failed = False
    for module_name in BENCHMARKS:
        if importlib.util.find_spec(module_name) is None:
            continue
        started = time.perf_counter()
        print(f"running {module_name} ...", file=sys.stderr, flush=True)
        try:
            run: Callable[[], dict[str, float]] = importlib.import_module(module_name).run
            results = run()
        except Exception as error:  # one broken benchmark must not hide the others' numbers
            rows.append((module_name, f"FAILED: {type(error).__name__}: {error}", ""))
            failed = True
            continue
        for measure, value in results.items():
            rows.append((module_name.removeprefix("bench."), measure, f"{value:,.2f}"))
        print(f"  {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    width = max(len(name) for _, name, _ in rows)
    print(f"\n{'benchmark':16} {'measure':{width}} {'value':>14}")
    print(f"{'-' * 16} {'-' * width} {'-' * 14}")
    for benchmark, measure, shown in rows:
        print(f"{benchmark:16} {measure:{width}} {shown:>14}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
