"""What the services' tests check of their `/docs`: where the page loads from, and the examples.

The page must work with no internet: `page_assets` lists every URL its HTML loads, which must
all be the service's own. And `/docs` fills a body with its first example and "Try it out"
sends it, so every body needs one the service takes, as far as its shape goes: every example
must pass the JSON schema the service publishes and the pydantic model that parses the body.

    bodies = documented_request_bodies((await client.get("/openapi.json")).json())
    models = models_of(auth_service.api.schemas)
    assert [body.operation for body in bodies if not body.examples] == []
    assert {body.operation: body.refusals(models) for body in bodies if body.refusals(models)} == {}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from types import ModuleType
from typing import Any

import httpx
import jsonschema_rs
from pydantic import BaseModel, ValidationError

COMPONENT = "#/components/schemas/"


def page_assets(html: str) -> list[str]:
    """Every URL the page loads (`src` and `href`), in order; an inline script is listed as
    `inline script` (the services' CSP would refuse it)."""
    parser = _AssetParser()
    parser.feed(html)
    return parser.found


class _AssetParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.found += [url for key in ("src", "href") if (url := named.get(key)) is not None]
        self._in_inline_script = tag == "script" and "src" not in named

    def handle_data(self, data: str) -> None:
        if self._in_inline_script and data.strip():
            self.found.append("inline script")

    def handle_endtag(self, tag: str) -> None:
        self._in_inline_script = False


@dataclass(frozen=True)
class DocumentedBody:
    """One media type of one operation's request body, as the document describes it."""

    operation: str
    """e.g. `POST /v1/orders application/json`"""
    examples: list[Any]
    schema: dict[str, Any]
    """The media type's schema, with the document's components beside it for its `$ref`s."""
    model_name: str | None
    """The component a JSON body refers to: the name of the pydantic model that parses it.
    None for an inline schema (a route that reads the request itself, such as a form)."""

    def refusals(self, models: Mapping[str, type[BaseModel]]) -> list[str]:
        """Why the schema, or the model named `model_name` in `models`, refuses an example;
        empty when both take them all."""
        found: list[str] = []
        validator = jsonschema_rs.validator_for(self.schema)
        model = None if self.model_name is None else models.get(self.model_name)
        if self.model_name is not None and model is None:
            found.append(f"no model named {self.model_name} among {sorted(models)}")
        for example in self.examples:
            found += [f"schema: {error.message}" for error in validator.iter_errors(example)]
            if model is not None:
                try:
                    model.model_validate_json(json.dumps(example))
                except ValidationError as error:
                    found.append(f"model: {error}")
        return found


def documented_request_bodies(document: Mapping[str, Any]) -> list[DocumentedBody]:
    """Every request body of the OpenAPI `document`, one per operation and media type."""
    components: dict[str, Any] = dict(document.get("components", {}))
    bodies: list[DocumentedBody] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            for media_type, media in content.items():
                schema = media["schema"]
                referred = [_component_name(s) for s in [schema, *schema.get("anyOf", [])]]
                names = [name for name in referred if name is not None]
                bodies.append(
                    DocumentedBody(
                        operation=f"{method.upper()} {path} {media_type}",
                        examples=_examples(media, components),
                        schema={**schema, "components": components},
                        model_name=names[0] if names and media_type == "application/json" else None,
                    )
                )
    return bodies


def models_of(*modules: ModuleType) -> dict[str, type[BaseModel]]:
    """The pydantic models defined in `modules`, by name (FastAPI's name for their component)."""
    return {
        name: value
        for module in modules
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == module.__name__
    }


def _examples(media: Mapping[str, Any], components: Mapping[str, Any]) -> list[Any]:
    """The media type's own examples, else its schema's (OpenAPI 3.1: JSON Schema `examples`),
    through a `$ref` and the members of an `anyOf` (an optional body)."""
    if "example" in media:
        return [media["example"]]
    if "examples" in media:
        return [example["value"] for example in media["examples"].values()]
    schema = media["schema"]
    for candidate in [schema, *schema.get("anyOf", [])]:
        name = _component_name(candidate)
        resolved = candidate if name is None else components["schemas"][name]
        if resolved.get("examples"):
            return list(resolved["examples"])
    return []


def _component_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.removeprefix(COMPONENT) if isinstance(ref, str) else None


async def served_docs_assets(http: httpx.AsyncClient) -> list[str]:
    """What `/docs` loads, each checked to be the service's own (`/docs/...`) and served (200);
    an `AssertionError` naming the first that is not."""
    assets = page_assets((await http.get("/docs")).text)
    assert assets, "/docs loads nothing"
    for url in assets:
        assert url.startswith("/docs/"), f"/docs loads {url} from elsewhere"
        assert (await http.get(url)).status_code == 200, f"{url} is not served"
    return assets


async def example_problems(http: httpx.AsyncClient, *modules: ModuleType) -> dict[str, str]:
    """Every request body of the service's OpenAPI that has no example, or one its schema or
    its pydantic model (from `modules`) refuses: `{operation: why}`, empty when all is well."""
    bodies = documented_request_bodies((await http.get("/openapi.json")).json())
    models = models_of(*modules)
    problems = {body.operation: "no example" for body in bodies if not body.examples}
    for body in bodies:
        if body.examples and (refusals := body.refusals(models)):
            problems[body.operation] = str(refusals)
    return problems
