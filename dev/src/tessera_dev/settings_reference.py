"""`make settings-docs`: docs/settings.md and each service's .env.example, from its `Settings`.

    python -m tessera_dev.settings_reference          # (re)write the four files
    python -m tessera_dev.settings_reference --check  # exit 1 when a committed one has drifted

The classes are the truth: every setting's meaning is its attribute docstring (pydantic's
`use_attribute_docstrings`), its default and accepted values come from the field. A setting a
service redefines only to give it a default of its own (`DATABASE_URL`, `HTTP_PORT`) keeps the
shared meaning, followed by the service's own words when it has some. A secret (`SecretStr`)
shows no default anywhere. tests/test_settings_reference.py fails when a file has drifted.

An .env.example's values are written so that a POSIX shell (`set -a; . file`) and compose's
`env_file:` read the same value (`env_file_value`): compose v2 (compose-go) and v1 from 1.26
(python-dotenv: Debian's docker-compose 1.29) take quotes off as a shell does, but only the
simplest quoting means the same to all of them. `shlex.quote` does not: its `'"'"'` for a
single quote inside a value is shell only (python-dotenv drops the line).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import shlex
import sys
import textwrap
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, SecretStr, TypeAdapter
from pydantic.fields import FieldInfo
from tessera.settings import ResourceServerSettings, ServiceSettings

SERVICES = {"auth": "auth_service", "orders": "orders_service", "billing": "billing_service"}
DOCS_PATH = Path("docs/settings.md")
COMMAND = "make settings-docs"


def env_example_path(service: str) -> Path:
    return Path("services") / service / ".env.example"


@dataclass(frozen=True)
class Setting:
    """One setting as documented: its default as written in an environment (None: unset)."""

    name: str
    default: str | None
    values: str
    meaning: str
    secret: bool
    per_service: bool = False
    """A mixin's setting without a default: each service gives its own."""


@dataclass(frozen=True)
class Section:
    title: str
    settings: tuple[Setting, ...]


MIXINS: tuple[tuple[type[BaseModel], str], ...] = (
    (ServiceSettings, "Every service (`tessera.ServiceSettings`)"),
    (ResourceServerSettings, "orders and billing (`tessera.ResourceServerSettings`)"),
)
"""The shared settings, each section without the names of the one before it."""


def settings_class(service: str) -> type[BaseModel]:
    settings: type[BaseModel] = importlib.import_module(f"{SERVICES[service]}.config").Settings
    return settings


def describe(name: str, field: FieldInfo, shared: FieldInfo | None = None) -> Setting:
    """`field` as documented; `shared` is the mixin's field it redefines, if it does."""
    words = [_one_line(f.description) for f in (shared, field) if f is not None and f.description]
    secret, per_service = _is_secret(field.annotation), field.is_required()
    return Setting(
        name=name,
        default=None if secret or per_service else _default(field),
        values=_values(field),
        meaning=" ".join(words),
        secret=secret,
        per_service=per_service,
    )


def shared_sections(model: type[BaseModel] | None = None) -> list[Section]:
    """The mixins' settings (those `model` inherits unchanged, when given), as their classes
    describe them; a required one's default is each service's own."""
    sections, seen = [], set[str]()
    for mixin, title in MIXINS:
        if model is not None and not issubclass(model, mixin):
            continue
        # the class's own first (ENVIRONMENT before what LoggingSettings adds), then its bases'
        ordered = dict.fromkeys([*inspect.get_annotations(mixin), *mixin.model_fields])
        names = [n for n in ordered if n not in seen]
        seen.update(names)
        if model is not None:
            names = [n for n in names if n not in _redefined(model)]
        source = mixin if model is None else model
        settings = tuple(describe(n, source.model_fields[n]) for n in names)
        sections.append(Section(title, settings))
    return sections


def own_section(service: str) -> Section:
    """`service`'s own settings, after the shared ones it gives a default of its own."""
    model = settings_class(service)
    shared = {n: f for mixin, _ in MIXINS for n, f in mixin.model_fields.items()}
    redefined = [n for n in _redefined(model) if n in shared]
    own = [n for n in model.model_fields if n not in shared]
    settings = [describe(n, model.model_fields[n], shared[n]) for n in redefined]
    settings += [describe(n, model.model_fields[n]) for n in own]
    return Section(f"{service} (`{model.__module__}.Settings`)", tuple(settings))


def render_docs() -> str:
    """docs/settings.md: the shared settings once, then each service's own."""
    lines = [
        "# Settings",
        "",
        f"<!-- Generated by `{COMMAND}` (python -m tessera_dev.settings_reference) from the",
        "     services' Settings classes: edit their docstrings, not this file. -->",
        "",
        "Every setting is an environment variable of the same name (no prefix), read once when the",
        "service starts and validated then: a wrong value stops the start with a line that names",
        "the setting, never its value. `ENVIRONMENT=production` refuses the embedded default's",
        "conveniences (see `ENVIRONMENT`). `make run` sets what differs from the defaults",
        "([tessera_dev/platform.py](../dev/src/tessera_dev/platform.py)), compose the same names",
        "with its own values ([docker-compose.yml](../docker-compose.yml)).",
        "",
        "Each service has an `.env.example` with all of its settings and their defaults, shared",
        "ones included: [auth](../services/auth/.env.example),",
        "[orders](../services/orders/.env.example), [billing](../services/billing/.env.example).",
        "A secret shows no default: give it as a mounted file (its `_FILE` setting) where there is",
        "one. A shell (`set -a; . file; set +a`) and compose's `env_file:` (v2, and v1 from 1.26)",
        "read its values alike: bare, or in single quotes around a space, `;`, `<` or JSON's `\"`",
        "(double quotes around a `'`). `docker run --env-file` and compose before 1.26 keep the",
        "quotes: for them, write such a value bare.",
    ]
    for section in shared_sections():
        lines += ["", f"## {section.title}", "", *_table(section.settings)]
    for service in SERVICES:
        section = own_section(service)
        lines += [
            "",
            f"## {section.title}",
            "",
            f"What only {service} reads, after the shared settings it gives a default of its own.",
            "",
            *_table(section.settings),
        ]
    return "\n".join(lines) + "\n"


def render_env_example(service: str) -> str:
    """services/<service>/.env.example: every setting commented out, with its default."""
    model = settings_class(service)
    header = (
        f"Every setting of the {service} service: environment variables of these names (no "
        "prefix), each commented out with its default (one shown with no value is unset: give "
        "it a value or leave it commented, since `NAME=` is not the default). Copy "
        "the file to .env and uncomment what you change; a shell reads it with "
        f"`set -a; . services/{service}/.env; set +a`, compose with `env_file:` (v2, and v1 "
        "from 1.26: Debian's 1.29), which takes quotes off as the shell does: a value with a "
        "space, `;`, `<` or JSON's `\"` is in single quotes (one holding a `'` would be in "
        "double quotes). `docker run --env-file` and compose before 1.26 keep quotes: write the "
        "value bare there (the file is then no shell script). Accepted values: "
        f"docs/settings.md. Generated by `{COMMAND}` from {model.__module__}.Settings: edit "
        "that, not this file."
    )
    lines = textwrap.wrap(
        header, width=98, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False
    )
    for section in [*shared_sections(model), own_section(service)]:
        lines += ["", "", f"# --- {_plain(section.title)} ---"]
        for setting in section.settings:
            lines.append("")
            lines += textwrap.wrap(
                setting.meaning,
                width=98,
                initial_indent="# ",
                subsequent_indent="# ",
                break_on_hyphens=False,
            )
            lines.append(f"# {setting.name}={_env_value(setting)}")
    return "\n".join(lines) + "\n"


def render_all() -> dict[Path, str]:
    """Every generated file by its path from the workspace root."""
    files = {DOCS_PATH: render_docs()}
    files |= {env_example_path(s): render_env_example(s) for s in SERVICES}
    return files


def _redefined(model: type[BaseModel]) -> list[str]:
    """The names `model`'s own body declares (a mixin's it redefines among them)."""
    return list(inspect.get_annotations(model))


def _table(settings: Sequence[Setting]) -> list[str]:
    rows = ["| Setting | Default | Values | Meaning |", "|---|---|---|---|"]
    for s in settings:
        cells = (f"`{s.name}`", _doc_default(s), s.values, s.meaning)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return rows


def _doc_default(setting: Setting) -> str:
    if setting.secret:
        return "secret: none shown"
    if setting.per_service:
        return "each service's own"
    if setting.default is None:
        return "unset"
    return f"`{setting.default}`" if setting.default else "empty"


def env_file_value(value: str) -> str:
    """`value` as the right-hand side of `NAME=value` that a shell (`set -a; . file`) and
    compose's `env_file:` (v1 from 1.26, v2) both read as `value`: bare when no character is
    special to either (the characters `shlex.quote` leaves bare), else in single quotes, which
    all of them keep literally inside, else, holding a single quote, in double quotes; a value
    that would need an escape in both (a backslash, a newline, `'` with `"`, `$` or a backtick)
    is refused with `ValueError`: no one line reads the same in all of them.

    Readers that never take quotes off (`docker run --env-file`, compose before 1.26, `kubectl
    create configmap --from-env-file`) read a quoted value with its quotes."""
    if value == "" or shlex.quote(value) == value:
        return value
    if not set(value) & set("'\\\n"):
        return f"'{value}'"
    if not set(value) & set('"$`\\\n'):
        return f'"{value}"'
    raise ValueError(f"{value!r}: no env-file line reads as this in a shell and in compose alike")


def _env_value(setting: Setting) -> str:
    if setting.default is None:
        return ""
    try:
        return env_file_value(setting.default)
    except ValueError as exc:
        raise ValueError(f"{setting.name}'s default cannot go into an .env.example: {exc}") from exc


def _default(field: FieldInfo) -> str | None:
    value = field.get_default(call_default_factory=True)
    adapter: TypeAdapter[Any] = TypeAdapter(field.annotation or Any)
    dumped = adapter.dump_python(value, mode="json")
    if dumped is None:
        return None
    if isinstance(dumped, bool):
        return "true" if dumped else "false"
    if isinstance(dumped, dict | list):
        return json.dumps(dumped, separators=(",", ":"))
    return str(dumped)


def _values(field: FieldInfo) -> str:
    """What the setting accepts: a kind, its bounds, "or unset" when it is optional."""
    annotation, optional = _unwrap_optional(field.annotation)
    if get_origin(annotation) is Literal:
        kind = ", ".join(f"`{value}`" for value in get_args(annotation))
    else:
        kind = _KINDS.get(annotation) or _KINDS.get(get_origin(annotation)) or "text"
    bounds = [
        f"{symbol} {getattr(constraint, attribute)}"
        for constraint in field.metadata
        for kind_of, symbol, attribute in _BOUNDS
        if isinstance(constraint, kind_of)
    ]
    return ", ".join([kind, *bounds, *(["or unset"] if optional else [])])


_KINDS: Mapping[Any, str] = {
    int: "integer",
    float: "number",
    str: "text",
    bool: "`true`, `false`",
    Path: "file path",
    SecretStr: "secret",
    dict: "JSON object",
}
_BOUNDS = (
    (annotated_types.Ge, "≥", "ge"),
    (annotated_types.Gt, ">", "gt"),
    (annotated_types.Le, "≤", "le"),
    (annotated_types.Lt, "<", "lt"),
)


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    args = get_args(annotation)
    if get_origin(annotation) in (Union, types.UnionType) and type(None) in args:
        (inner,) = [arg for arg in args if arg is not type(None)]
        return inner, True
    return annotation, False


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_is_secret(arg) for arg in get_args(annotation))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _plain(markdown: str) -> str:
    return markdown.replace("`", "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tessera_dev.settings_reference")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on drift")
    parser.add_argument("--root", type=Path, default=Path(), help="the workspace root")
    args = parser.parse_args(argv)
    drifted = []
    for path, text in render_all().items():
        target = args.root / path
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        drifted.append(path)
        if not args.check:
            target.write_text(text, encoding="utf-8")
    for path in drifted:
        print(f"{path}: {'differs from the Settings classes' if args.check else 'written'}")
    if args.check and drifted:
        print(f"run `{COMMAND}` and commit the result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
