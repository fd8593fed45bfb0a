"""The committed gRPC code must be what `make protos` generates from protos/ today.

Generated code is committed (so installing needs no protoc), which makes it possible to edit a
.proto and forget to regenerate; this test regenerates into a temporary directory and diffs.
"""

import filecmp
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "shared" / "src" / "tessera" / "billing"


def _generated_files(tree: Path) -> set[Path]:
    return {
        path.relative_to(tree)
        for path in tree.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_committed_generated_code_matches_the_protos(tmp_path: Path) -> None:
    subprocess.run(
        [str(ROOT / "scripts" / "gen_protos.sh"), str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    fresh = tmp_path / "tessera" / "billing"

    fresh_files, committed_files = _generated_files(fresh), _generated_files(COMMITTED)
    assert fresh_files, "gen_protos.sh generated nothing"
    assert fresh_files == committed_files, "run `make protos`: generated file set differs"
    _, stale, missing = filecmp.cmpfiles(
        fresh, COMMITTED, sorted(str(p) for p in fresh_files), shallow=False
    )
    assert stale + missing == [], "run `make protos`: these generated files are stale"
