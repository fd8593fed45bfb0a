"""The READMEs' command blocks work as written, in order, against `make run`.

`make run` itself starts the platform, on free ports and a var directory of its own, named by
`TESSERA_DEV_PORT_BASE` and `TESSERA_DEV_VAR_DIR` as a developer runs a second copy; the
Makefile's targets on `make run`'s platform (`make admin`, `make keys-*`, `make mobile`) and
`python -m tessera_dev.inbox` read the same two variables. Each README's ```sh blocks then run in
one `bash -euo pipefail` session, in order, from the repository's root, as someone copying them
top to bottom into one terminal would, with `make run`'s ports in them (`localhost:8000`,
`127.0.0.1:8025`, ...) replaced by the platform's. A command that fails stops the session and
fails the test with its block: a refused call (`curl --fail-with-body`), an answer without the
field read (`jq -e`), a make target that errs.

A block that cannot run here sits right under `<!-- not run by tests/test_readme_blocks.py:
REASON -->`, and holds nothing but what cannot run here: `make run` (it stays in the
foreground), `make test`, `make secrets` (it would replace this checkout's compose secrets),
Docker and Kubernetes commands.

auth runs with `JWKS_MAX_AGE_SECONDS=2`, and so does `make keys-rotate` (tests/test_signing_keys.py
shortens it too): a next key may sign seconds after it is published rather than 5 minutes, so the
README's rotation takes seconds.

The blocks need `curl` and `jq`: without them their test is skipped, except under `CI=true`,
where it fails (CI installs both first: `python -m tessera_dev.services_check`).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from tessera_dev.harness import free_port_base
from tessera_dev.platform import PortPlan, describe_platform
from tessera_dev.services_check import README_TOOLS

ROOT = Path(__file__).resolve().parents[1]
READMES = ("README.md", "clients/mobile/README.md", "clients/spa/README.md")
RUN = ("sh", "bash")
SHELL_LANGUAGES = (*RUN, "shell", "console", "zsh")
NOT_RUN = re.compile(r"^<!-- not run by tests/test_readme_blocks\.py: (?P<reason>\S.*?) -->$")
CANNOT_RUN_HERE = (
    "make run",
    "make test",
    "make secrets",
    "docker ",
    "docker-compose ",
    "kubectl ",
)
COMMAND_WORDS = ("make ", "curl ", "uv ", "python ", ".venv/", "docker", "kubectl ")
ADDRESS = re.compile(r"\b(localhost|127\.0\.0\.1):(\d+)\b")
TEST_SETTINGS = {"JWKS_MAX_AGE_SECONDS": "2"}
START_UP_SECONDS = 150
BLOCKS_SECONDS = 240


@dataclass(frozen=True)
class Block:
    """One fenced block of a README: where it starts, its info string, the marker above it."""

    readme: str
    line: int
    language: str
    text: str
    not_run_reason: str | None

    @property
    def runs(self) -> bool:
        return self.language in RUN and self.not_run_reason is None

    def __str__(self) -> str:
        return f"{self.readme}:{self.line}"


def fenced_blocks(readme: str) -> list[Block]:
    """Every ``` block of `readme` (relative to the repository's root), in order."""
    lines = (ROOT / readme).read_text().splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        opening = re.match(r"^```(\S*)", lines[index])
        if opening is None:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].rstrip() == "```")
        above = NOT_RUN.match(lines[index - 1]) if index > 0 else None
        blocks.append(
            Block(
                readme=readme,
                line=index + 1,
                language=opening.group(1),
                text="\n".join(lines[index + 1 : end]) + "\n",
                not_run_reason=above.group("reason") if above else None,
            )
        )
        index = end + 1
    return blocks


def commands(block: Block) -> list[str]:
    """The block's command lines (no comments, no continuation lines)."""
    found, continued = [], False
    for raw in block.text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and not continued:
            found.append(line)
        continued = line.endswith("\\")
    return found


def with_ports_of(ports: PortPlan, script: str) -> str:
    """`script` aimed at `ports`: every `make run` port (localhost:8000, 127.0.0.1:8025, ...)
    replaced by the same process's port there; any other port is refused."""
    defaults = PortPlan()
    moved = {str(getattr(defaults, name)): str(getattr(ports, name)) for name in vars(defaults)}

    def replace(match: re.Match[str]) -> str:
        host, port = match.groups()
        assert port in moved, f"{host}:{port} is no port of make run's: the test cannot aim it"
        return f"{host}:{moved[port]}"

    return ADDRESS.sub(replace, script)


def session_script(blocks: list[Block], ports: PortPlan, progress: Path) -> str:
    """One shell session running `blocks` in order; each notes in `progress` that it began and
    ended, so a failure names its block."""
    parts = [f"exec 3>{shlex.quote(str(progress))}"]
    for number, block in enumerate(blocks):
        parts += [
            f"echo 'begin {number}' >&3",
            f"printf '\\n$ # %s\\n' '{block}'",
            with_ports_of(ports, block.text),
            f"echo 'end {number}' >&3",
        ]
    return "\n".join(parts) + "\n"


def a_newcomers_environment(**extra: str) -> dict[str, str]:
    """This environment without make's own variables (a terminal has none; under `make test`
    they would make every nested make say which directory it enters), plus `extra`."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("MAKE") and name != "MFLAGS"
    }
    return {**environment, **TEST_SETTINGS, **extra}


@dataclass(frozen=True)
class MakeRun:
    ports: PortPlan
    environment: dict[str, str]


def _ready(urls: list[str]) -> bool:
    try:
        return all(httpx.get(url, timeout=2).status_code == 200 for url in urls)
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeRun]:
    """`make run` on ports and a var directory of its own, stopped as Ctrl-C stops it."""
    workdir = tmp_path_factory.mktemp("readme-blocks")
    ports = PortPlan.from_base(free_port_base())
    environment = a_newcomers_environment(
        TESSERA_DEV_PORT_BASE=str(ports.gateway), TESSERA_DEV_VAR_DIR=str(workdir / "var")
    )
    plan = describe_platform(ports=ports)
    urls = [plan.mail.health_url, *(s.health_url for s in plan.services), plan.gateway.health_url]
    log = workdir / "make-run.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_UP_SECONDS
        while not _ready(urls):
            assert process.poll() is None, log.read_text()[-6000:]
            assert time.monotonic() < deadline, log.read_text()[-6000:]
            time.sleep(0.5)
        yield MakeRun(ports, environment)
    finally:
        started = psutil.Process(process.pid).children(recursive=True)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in make run's terminal
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        _, alive = psutil.wait_procs(started, timeout=15)
        for leftover in alive:
            leftover.kill()


def readmes_with_blocks_to_run() -> list[str]:
    return [readme for readme in READMES if any(b.runs for b in fenced_blocks(readme))]


MISSING_TOOLS = [tool for tool in README_TOOLS if shutil.which(tool) is None]
NO_TOOLS = (
    f"the blocks need {' and '.join(README_TOOLS)}, and {', '.join(MISSING_TOOLS)} is missing "
    "(python -m tessera_dev.services_check installs them)"
)
UNDER_CI = os.environ.get("CI", "").lower() == "true"
"""CI installs curl and jq first (`make test` runs tessera_dev.services_check): there a missing
one fails the blocks' test rather than skipping it unseen."""


@pytest.mark.skipif(bool(MISSING_TOOLS) and not UNDER_CI, reason=NO_TOOLS)
@pytest.mark.parametrize("readme", readmes_with_blocks_to_run())
def test_every_command_block_of_the_readme_works_as_written_in_order_against_make_run(
    make_run: MakeRun, readme: str, tmp_path: Path
) -> None:
    if MISSING_TOOLS:  # only under CI=true: elsewhere the test is skipped
        pytest.fail(f"CI=true, but {NO_TOOLS}")
    blocks = [block for block in fenced_blocks(readme) if block.runs]
    progress = tmp_path / "progress"
    script = tmp_path / "session.sh"
    script.write_text(session_script(blocks, make_run.ports, progress))

    session = subprocess.run(
        ["bash", "-euo", "pipefail", str(script)],
        cwd=ROOT,
        env=make_run.environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=BLOCKS_SECONDS,
        check=False,
    )

    marks = progress.read_text().split("\n") if progress.exists() else []
    ended = sum(mark.startswith("end ") for mark in marks)
    failed = blocks[ended] if ended < len(blocks) else None
    output = f"{session.stdout[-6000:]}\n--- stderr ---\n{session.stderr[-4000:]}"
    assert session.returncode == 0, f"the block at {failed} failed:\n{output}"
    assert ended == len(blocks), f"the block at {failed} left the session early:\n{output}"


@pytest.mark.parametrize("readme", READMES)
def test_every_shell_block_is_run_or_says_why_not(readme: str) -> None:
    for block in fenced_blocks(readme):
        if block.language in SHELL_LANGUAGES:
            assert block.language in RUN or block.not_run_reason, (
                f"{block}: ```{block.language} is never run: make it ```sh, or say why not"
            )
        elif not block.language:
            # a block of commands without a language would escape the test
            for line in commands(block):
                assert not line.startswith(COMMAND_WORDS), f"{block}: commands, but not ```sh"


@pytest.mark.parametrize("readme", READMES)
def test_a_block_not_run_holds_only_what_cannot_run_here(readme: str) -> None:
    for block in fenced_blocks(readme):
        if block.not_run_reason is not None:
            for line in commands(block):
                assert line.startswith(CANNOT_RUN_HERE), f"{block}: `{line}` can run: run it"


def test_the_readmes_have_blocks_to_run() -> None:
    # a README whose blocks were all marked "not run" would pass the test above unrun
    assert readmes_with_blocks_to_run() == ["README.md", "clients/mobile/README.md"]
    assert sum(block.runs for block in fenced_blocks("README.md")) >= 6


@pytest.mark.parametrize("readme", READMES)
def test_every_make_target_a_readme_names_exists(readme: str) -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-zA-Z][a-zA-Z0-9_-]*):", makefile, flags=re.MULTILINE))
    text = (ROOT / readme).read_text()
    spans = re.findall(r"`([^`\n]+)`", text)
    lines = [line for block in fenced_blocks(readme) for line in block.text.splitlines()]
    named = {
        match.group(1)
        for snippet in (*spans, *lines)
        for match in re.finditer(r"(?:^|[|;&(]\s*|\$\()\s*make (?:-s )?([a-z][a-z0-9-]*)", snippet)
    }

    assert named - targets == set()


def test_grpc_call_says_why_billing_refused_a_call_and_which_method_it_does_not_know(
    make_run: MakeRun,
) -> None:
    grpc_call = [sys.executable, "-m", "tessera_dev.grpc_call"]
    target = f"127.0.0.1:{make_run.ports.billing_grpc}"
    method = "tessera.billing.v1.BillingService/ListInvoices"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*grpc_call, *args], capture_output=True, text=True, timeout=60, check=False
        )

    refused = run("-H", "authorization: Bearer nope", target, method)
    unknown = run(target, "tessera.billing.v1.BillingService/Nope")
    malformed = run("-d", '{"page_size": "ten"}', target, method)

    assert refused.returncode == 1
    assert refused.stderr.startswith("ERROR: UNAUTHENTICATED")
    assert 'www-authenticate: Bearer error="invalid_token"' in refused.stderr
    assert unknown.returncode == 2
    assert "has no method 'Nope'" in unknown.stderr
    assert malformed.returncode == 2
    assert "not a tessera.billing.v1.ListInvoicesRequest" in malformed.stderr


def test_the_inbox_helper_fails_when_no_such_link_arrives(make_run: MakeRun) -> None:
    helper = [sys.executable, "-m", "tessera_dev.inbox"]
    waited = subprocess.run(
        [*helper, "token", "reset", "nobody@example.org", "--seconds", "1"],
        env=make_run.environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert waited.returncode == 1
    assert "no mail to nobody@example.org" in waited.stderr
    assert f"127.0.0.1:{make_run.ports.mail_http}" in waited.stderr
