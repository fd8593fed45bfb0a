"""docs/settings.md and each service's .env.example say what the `Settings` classes say: they are
generated from them (`make settings-docs`), and these tests fail when a committed file drifts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from pydantic import ValidationError
from tessera_dev.settings_reference import (
    DOCS_PATH,
    SERVICES,
    env_example_path,
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
