"""deploy/k8s runs each service the way the launcher and compose do, and keeps the inside inside.

The manifests are read with PyYAML and held against `tessera_dev.platform` (commands, setting
names), the services' own `Settings` classes (every name set is a real setting) and the dev
gateway's route table (the Ingress routes exactly those prefixes). No cluster here: when
`kubectl` (its built-in kustomize) or `kustomize` is installed, the overlay is also built from a
copy with throwaway secret files, so the generated Secrets and their references are checked too.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tessera_dev.gateway import ROUTES
from tessera_dev.platform import ServiceProcess, describe_platform

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
DEV_OVERLAY = K8S / "overlays" / "dev"
PLATFORM = describe_platform()

K8S_ONLY_SETTINGS = {"auth": {"KEY_ENCRYPTION_KEY_FILE", "MAIL_FROM"}}
"""Names a cluster sets beyond the platform's: with several auth replicas the key-encryption key
must be one shared secret (the embedded default generates one per process under var/), and
mail comes from the deployment's own domain."""

Manifest = dict[str, Any]


def manifests(directory: Path = BASE) -> list[Manifest]:
    """Every YAML document under `directory` (the base unless told), never the secret files."""
    found: list[Manifest] = []
    for path in sorted(directory.rglob("*.yaml")):
        if "secrets" in path.relative_to(directory).parts:
            continue
        found.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return found


def of_kind(kind: str, docs: list[Manifest] | None = None) -> list[Manifest]:
    return [doc for doc in (manifests() if docs is None else docs) if doc.get("kind") == kind]


def deployment(name: str) -> Manifest:
    (found,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == name]
    return found


def pod_spec(name: str) -> Manifest:
    spec: Manifest = deployment(name)["spec"]["template"]["spec"]
    return spec


def containers(name: str) -> Iterator[Manifest]:
    spec = pod_spec(name)
    yield from spec["initContainers"]
    yield from spec["containers"]


def env_names(container: Manifest) -> set[str]:
    return {variable["name"] for variable in container["env"]}


def env_value(container: Manifest, name: str) -> str:
    (value,) = [v["value"] for v in container["env"] if v["name"] == name]
    return str(value)


SERVICES = pytest.mark.parametrize("service", PLATFORM.services, ids=lambda s: s.name)


@SERVICES
def test_each_deployment_migrates_then_serves_with_the_platforms_commands(
    service: ServiceProcess,
) -> None:
    spec = pod_spec(service.name)
    (migrate,) = spec["initContainers"]
    (serve,) = spec["containers"]

    assert tuple(migrate["command"]) == service.migrate_argv
    assert tuple(serve["command"]) == service.serve_argv
    assert migrate["image"] == serve["image"] == f"tessera/{service.name}"


@SERVICES
def test_each_container_gets_the_platforms_setting_names_and_only_real_settings(
    service: ServiceProcess,
) -> None:
    expected = (
        set(service.settings)
        | service.deployment_settings
        | K8S_ONLY_SETTINGS.get(service.name, set())
    )
    settings_class = importlib.import_module(f"{service.package}.config").Settings

    for container in containers(service.name):
        assert env_names(container) == expected, container["name"]
    assert expected <= set(settings_class.model_fields)


@SERVICES
def test_every_container_logs_json_lines_for_the_cluster_log_collector(
    service: ServiceProcess,
) -> None:
    for container in containers(service.name):
        assert env_value(container, "LOG_FORMAT") == "json", container["name"]


@SERVICES
def test_probes_ask_readyz_for_readiness_and_healthz_for_liveness_on_the_http_port(
    service: ServiceProcess,
) -> None:
    (serve,) = pod_spec(service.name)["containers"]
    ports = {port["name"]: port["containerPort"] for port in serve["ports"]}

    assert serve["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert serve["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert ports[serve[probe]["httpGet"]["port"]] == service.http_port
    assert int(env_value(serve, "HTTP_PORT")) == service.http_port
    if service.grpc_port is not None:
        assert ports["grpc"] == service.grpc_port == int(env_value(serve, "GRPC_PORT"))


@SERVICES
def test_containers_run_as_non_root_on_a_read_only_root_with_bounded_resources(
    service: ServiceProcess,
) -> None:
    spec = pod_spec(service.name)

    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["automountServiceAccountToken"] is False
    for container in containers(service.name):
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]


def test_auth_runs_several_replicas_with_one_shared_key_encryption_key() -> None:
    auth = deployment("auth")
    (serve,) = auth["spec"]["template"]["spec"]["containers"]
    mounted = {
        item["path"]
        for volume in auth["spec"]["template"]["spec"]["volumes"]
        if "secret" in volume
        for item in volume["secret"]["items"]
    }

    assert auth["spec"]["replicas"] >= 2
    assert Path(env_value(serve, "KEY_ENCRYPTION_KEY_FILE")).name in mounted
    assert Path(env_value(serve, "SERVICE_CLIENTS_FILE")).name in mounted


def test_the_ingress_routes_exactly_the_gateways_prefixes_to_their_services() -> None:
    (ingress,) = of_kind("Ingress")
    (rule,) = ingress["spec"]["rules"]
    routed = {path["path"]: path["backend"]["service"]["name"] for path in rule["http"]["paths"]}

    assert routed == dict(ROUTES)
    assert {path["pathType"] for path in rule["http"]["paths"]} == {"Prefix"}


def test_each_service_exposes_the_ports_its_deployment_listens_on() -> None:
    services = {s["metadata"]["name"]: s for s in of_kind("Service")}

    for process in PLATFORM.services:
        ports = {p["name"]: p["port"] for p in services[process.name]["spec"]["ports"]}
        expected = {"http": process.http_port}
        if process.grpc_port is not None:
            expected["grpc"] = process.grpc_port
        assert ports == expected


def test_billing_grpc_is_reachable_only_from_orders_and_everything_else_is_denied() -> None:
    policies = {p["metadata"]["name"]: p for p in of_kind("NetworkPolicy")}
    grpc_rules = [
        rule
        for policy in policies.values()
        for rule in policy["spec"].get("ingress", [])
        if any(port["port"] == 50051 for port in rule["ports"])
    ]

    assert policies["default-deny"]["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }
    (grpc_rule,) = grpc_rules
    assert grpc_rule["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "orders"}}}
    ]


def test_no_secret_value_is_committed_and_the_generated_ones_come_from_ignored_files() -> None:
    kustomization = yaml.safe_load((DEV_OVERLAY / "kustomization.yaml").read_text())
    generators = kustomization["secretGenerator"]
    files = [entry.split("=", 1)[1] for g in generators for entry in g["files"]]

    assert of_kind("Secret", manifests(K8S)) == []
    assert all(set(g) == {"name", "files"} for g in generators)  # no literals, no envs
    for relative in files:
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", str(DEV_OVERLAY / relative)], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0, relative


def test_every_secret_a_deployment_names_is_generated_by_the_overlay() -> None:
    kustomization = yaml.safe_load((DEV_OVERLAY / "kustomization.yaml").read_text())
    generated = {
        g["name"]: {e.split("=", 1)[0] for e in g["files"]}
        for g in kustomization["secretGenerator"]
    }

    for process in PLATFORM.services:
        spec = pod_spec(process.name)
        for volume in spec["volumes"]:
            if "secret" in volume:
                keys = {item["key"] for item in volume["secret"]["items"]}
                assert keys <= generated[volume["secret"]["secretName"]]
        for container in containers(process.name):
            for variable in container["env"]:
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in generated[ref["name"]]


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


@pytest.mark.skipif(
    kustomize_command() is None,
    reason="neither kustomize nor kubectl is installed (no Debian kustomize package; no cluster)",
)
def test_the_dev_overlay_builds_with_hashed_secrets_that_every_reference_follows(
    tmp_path: Path,
) -> None:
    command = kustomize_command()
    assert command is not None
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns("secrets"))
    overlay = copy / "overlays" / "dev"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    for generator in kustomization["secretGenerator"]:
        for entry in generator["files"]:
            path = overlay / entry.split("=", 1)[1]
            path.parent.mkdir(exist_ok=True)
            path.write_text("throwaway")

    built = subprocess.run(
        [*command, str(overlay)], capture_output=True, text=True, check=False, timeout=60
    )

    assert built.returncode == 0, built.stderr
    docs = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    secrets = {s["metadata"]["name"] for s in of_kind("Secret", docs)}
    assert len(secrets) == len(kustomization["secretGenerator"])
    referenced = {
        ref["name"]
        for d in of_kind("Deployment", docs)
        for c in d["spec"]["template"]["spec"]["initContainers"]
        + d["spec"]["template"]["spec"]["containers"]
        for v in c["env"]
        if (ref := v.get("valueFrom", {}).get("secretKeyRef"))
    } | {
        v["secret"]["secretName"]
        for d in of_kind("Deployment", docs)
        for v in d["spec"]["template"]["spec"]["volumes"]
        if "secret" in v
    }
    assert referenced == secrets
    assert {d["metadata"]["namespace"] for d in docs if d["kind"] != "Namespace"} == {"tessera-dev"}
