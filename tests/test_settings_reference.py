"""docs/settings.md and each service's .env.example say what the `Settings` classes say: they are
generated from them (`make settings-docs`), and these tests fail when a committed file drifts."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import dotenv
import pytest
import yaml
from pydantic import ValidationError
from tessera_dev.settings_reference import (
    DOCS_PATH,
    SERVICES,
    env_example_path,
    env_file_value,
    own_section,
    render_all,
    settings_class,
    shared_sections,
)

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = re.compile(r"^# ([A-Z][A-Z0-9_]*)=(.*)$", re.M)


def test_the_committed_reference_and_env_examples_are_what_the_classes_generate() -> None:
    for path, text in render_all().items():
        committed = ROOT / path

        assert committed.exists(), f"{path} is missing: run make settings-docs"
        assert committed.read_text(encoding="utf-8") == text, f"{path} drifted: make settings-docs"


@pytest.mark.parametrize("service", SERVICES)
def test_every_setting_says_what_it_means(service: str) -> None:
    sections = [*shared_sections(settings_class(service)), own_section(service)]

    documented = [setting for section in sections for setting in section.settings]

    assert sorted(s.name for s in documented) == sorted(settings_class(service).model_fields)
    assert [s.name for s in documented if not s.meaning] == []


@pytest.mark.parametrize("service", SERVICES)
def test_an_env_example_uncommented_as_it_is_gives_every_default(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every line with a value, uncommented, sets the default; the lines with none are the
    settings unset by default (secrets, optional paths), which must stay commented."""
    model = settings_class(service)
    assignments = ASSIGNMENT.findall((ROOT / env_example_path(service)).read_text())
    for name, value in assignments:
        if value:
            monkeypatch.setenv(name, shlex.split(value)[0])

    loaded = model()

    assert sorted(name for name, _ in assignments) == sorted(model.model_fields)
    assert loaded.model_dump() == model.model_validate({}).model_dump()


@pytest.mark.parametrize("service", SERVICES)
def test_an_empty_environment_is_refused_not_taken_for_dev(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ENVIRONMENT=` must never quietly become `dev` and skip production's refusals."""
    monkeypatch.setenv("ENVIRONMENT", "")

    with pytest.raises(ValidationError):
        settings_class(service)()


@pytest.mark.parametrize("service", SERVICES)
def test_a_secret_shows_no_default_anywhere(service: str) -> None:
    env_example = (ROOT / env_example_path(service)).read_text()
    reference = (ROOT / DOCS_PATH).read_text()
    sections = [*shared_sections(settings_class(service)), own_section(service)]
    secrets = [s.name for section in sections for s in section.settings if s.secret]

    assert secrets  # SERVICE_CLIENT_SECRET or KEY_ENCRYPTION_KEY at least
    for name in secrets:
        assert f"\n# {name}=\n" in env_example
        assert f"| `{name}` | secret: none shown |" in reference


def test_the_readme_links_the_reference() -> None:
    assert "(docs/settings.md)" in (ROOT / "README.md").read_text()


def read_by_a_shell(env_file: Path) -> dict[str, str]:
    """What `set -a; . FILE; set +a` exports, as the .env.example's header says to read it."""
    exported = subprocess.run(
        ["bash", "-c", 'set -a; . "$1"; set +a; exec env -0', "bash", str(env_file)],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    pairs = (entry.split("=", 1) for entry in exported.split("\0") if entry)
    return {name: value for name, value in pairs if name not in {"PATH", "PWD", "SHLVL", "_"}}


def read_by_docker_compose(
    env_files: dict[str, Path], directory: Path
) -> dict[str, dict[str, str]]:
    """Each service's environment as Debian's docker-compose (v1) resolves its `env_file:`."""
    services = {
        name: {"image": "busybox", "env_file": str(path)} for name, path in env_files.items()
    }
    compose_file = directory / "docker-compose.yml"
    compose_file.write_text(yaml.safe_dump({"version": "3.8", "services": services}))
    resolved = subprocess.run(
        ["docker-compose", "-f", str(compose_file), "config"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = yaml.safe_load(resolved.stdout)["services"]  # compose quotes '8001', 'true'
    return {name: dict(loaded[name]["environment"]) for name in services}


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("dev", "dev"),
        ("sqlite+aiosqlite:///var/auth.db", "sqlite+aiosqlite:///var/auth.db"),
        ("5/minute;20/hour", "'5/minute;20/hour'"),
        ("Tessera <no-reply@localhost>", "'Tessera <no-reply@localhost>'"),
        (
            '{"orders":{"grants":["client_credentials"]}}',
            '\'{"orders":{"grants":["client_credentials"]}}\'',
        ),
        ("Ada's shop <shop@example.org>", '"Ada\'s shop <shop@example.org>"'),
        ("~/not/home", "'~/not/home'"),
    ],
)
def test_a_value_is_written_so_a_shell_and_compose_read_it_alike(
    value: str, written: str, tmp_path: Path
) -> None:
    """Bare when nothing in it is special, else quoted so that a shell and compose's env_file
    parser (python-dotenv in v1; v2 documents the same quotes) both take the quotes off;
    `shlex.quote`'s `'"'"'` for a single quote is shell only: python-dotenv drops the line."""
    env_file = tmp_path / ".env"
    env_file.write_text(f"VALUE={env_file_value(value)}\n")

    assert env_file_value(value) == written
    assert read_by_a_shell(env_file) == {"VALUE": value}
    assert dotenv.dotenv_values(env_file) == {"VALUE": value}


@pytest.mark.parametrize("value", ["a\\b", 'it\'s "quoted"', "it's $HOME", "two\nlines"])
def test_a_value_no_line_reads_alike_in_both_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="reads as this in a shell and in compose alike"):
        env_file_value(value)


def uncommented_env_examples(directory: Path) -> tuple[dict[str, Path], dict[str, dict[str, str]]]:
    """Each .env.example with every line that has a value uncommented, written into `directory`,
    and the defaults the reference lists for those lines, by service."""
    env_files, defaults = {}, {}
    for service in SERVICES:
        assignments = ASSIGNMENT.findall((ROOT / env_example_path(service)).read_text())
        env_files[service] = directory / f"{service}.env"
        env_files[service].write_text("".join(f"{n}={v}\n" for n, v in assignments if v))
        sections = [*shared_sections(settings_class(service)), own_section(service)]
        defaults[service] = {
            s.name: s.default for section in sections for s in section.settings if s.default
        }
    return env_files, defaults


def test_every_env_example_uncommented_gives_a_shell_and_python_dotenv_the_defaults(
    tmp_path: Path,
) -> None:
    """python-dotenv is compose v1's env_file parser (and pydantic-settings')."""
    env_files, defaults = uncommented_env_examples(tmp_path)
    lines = [line for path in env_files.values() for line in path.read_text().splitlines()]

    assert any("='" in line for line in lines)  # quoted values are exercised, not only bare ones
    for service, env_file in env_files.items():
        assert read_by_a_shell(env_file) == defaults[service]
        assert dotenv.dotenv_values(env_file) == defaults[service]


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose is not installed (python -m tessera_dev.services_check installs it)",
)
def test_every_env_example_uncommented_gives_docker_compose_v1_the_defaults(
    tmp_path: Path,
) -> None:
    env_files, defaults = uncommented_env_examples(tmp_path)

    assert read_by_docker_compose(env_files, tmp_path) == defaults
