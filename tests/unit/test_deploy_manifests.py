"""deploy/ and the Dockerfile as files: what a deployed podium must be, checked without a cluster.

(The apiserver's verdict on the same manifests is in tests/integration/test_deploy.py.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from podium.config import load_config
from podium.testing.manifests import (
    ManifestError,
    deploy_dir,
    isolate,
    kustomization_paths,
    load_documents,
)

EXAMPLES = {"jaeger.yaml"}  # applied on their own, not by `kubectl apply -k`
DOCKERFILE = deploy_dir().parent / "Dockerfile"
HELM_CHART = deploy_dir() / "helm"


def _objects() -> list[dict[str, Any]]:
    return load_documents(kustomization_paths(deploy_dir()))


def _one(kind: str, objects: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    found = [o for o in (objects or _objects()) if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def test_kustomization_lists_every_manifest_but_the_examples() -> None:
    listed = {p.relative_to(deploy_dir()).as_posix() for p in kustomization_paths(deploy_dir())}
    on_disk = {
        p.relative_to(deploy_dir()).as_posix()
        for p in deploy_dir().rglob("*.yaml")
        # The Helm chart installs the same objects its own way (test_helm_chart.py).
        if p.name != "kustomization.yaml" and HELM_CHART not in p.parents
    }
    assert listed == on_disk - EXAMPLES
    assert all(path.is_file() for path in kustomization_paths(deploy_dir()))


def test_config_map_holds_a_valid_config_that_leads_in_its_own_namespace(tmp_path: Path) -> None:
    objects = _objects()
    config_map = _one("ConfigMap", objects)
    path = tmp_path / "config.yaml"
    path.write_text(config_map["data"]["config.yaml"])
    config = load_config(path)
    assert config.leader_election.leader_elect
    assert config.leader_election.resource_namespace == config_map["metadata"]["namespace"]
    assert list(config.scheduler_names) == ["podium"]
    # The lease the Role allows by name is the one the config elects on.
    role = _one("Role", objects)
    named = [rule for rule in role["rules"] if rule.get("resourceNames")]
    assert [config.leader_election.resource_name] == named[0]["resourceNames"]
    # Probes and metrics go to the port podium listens on.
    container = _one("Deployment", objects)["spec"]["template"]["spec"]["containers"][0]
    port = int(config.podium.health_bind_address.rsplit(":", 1)[1])
    assert container["ports"][0]["containerPort"] == port


def test_deployment_is_ha_probed_bounded_and_locked_down() -> None:
    objects = _objects()
    deployment = _one("Deployment", objects)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["replicas"] == 2
    assert pod["serviceAccountName"] == _one("ServiceAccount", objects)["metadata"]["name"]
    assert "schedulerName" not in pod  # placed by the default scheduler, not by itself
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    security = container["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert any(e["name"] == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" for e in container["env"])
    # The PodDisruptionBudget keeps one replica through voluntary disruptions.
    selector = _one("PodDisruptionBudget", objects)["spec"]["selector"]
    assert selector == deployment["spec"]["selector"]


def test_rbac_grants_no_secrets_no_wildcards_and_leases_only_in_its_namespace() -> None:
    objects = _objects()
    cluster_rules = _one("ClusterRole", objects)["rules"]
    for rule in cluster_rules + _one("Role", objects)["rules"]:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
        assert "secrets" not in rule["resources"], rule
    assert not any("coordination.k8s.io" in rule["apiGroups"] for rule in cluster_rules)
    role = _one("Role", objects)
    assert role["metadata"]["namespace"] == _one("Namespace", objects)["metadata"]["name"]
    assert all(rule["resources"] == ["leases"] for rule in role["rules"])
    # Writes to pods are exactly: bind, report status, delete (preemption's victims).
    pod_writes = {
        (resource, verb)
        for rule in cluster_rules
        if rule["apiGroups"] == [""]
        for resource in rule["resources"]
        if resource.startswith("pods")
        for verb in rule["verbs"]
        if verb not in {"get", "list", "watch"}
    }
    assert pod_writes == {("pods", "delete"), ("pods/binding", "create"), ("pods/status", "patch")}


def test_bindings_name_the_service_account_the_deployment_runs_as() -> None:
    objects = _objects()
    account = _one("ServiceAccount", objects)["metadata"]
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        binding = _one(kind, objects)
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
        ]


def test_isolate_renames_namespaces_cluster_rbac_and_references_but_not_crds() -> None:
    isolated = isolate(_objects(), "t1")
    by_kind = {o["kind"]: o for o in isolated}
    assert by_kind["Namespace"]["metadata"]["name"] == "podium-system-t1"
    assert by_kind["ServiceAccount"]["metadata"]["namespace"] == "podium-system-t1"
    assert by_kind["ClusterRole"]["metadata"]["name"] == "podium-scheduler-t1"
    binding = by_kind["ClusterRoleBinding"]
    assert binding["metadata"]["name"] == "podium-scheduler-t1"
    assert binding["roleRef"]["name"] == "podium-scheduler-t1"
    assert binding["subjects"][0]["namespace"] == "podium-system-t1"
    assert by_kind["RoleBinding"]["roleRef"]["name"] == "podium-leader-election"  # a Role
    crds = [o["metadata"]["name"] for o in isolated if o["kind"] == "CustomResourceDefinition"]
    assert "podgroups.scheduling.x-k8s.io" in crds
    # The originals are untouched.
    assert _one("Namespace")["metadata"]["name"] == "podium-system"


def test_a_document_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("just: a mapping\n")
    with pytest.raises(ManifestError, match="document 0 is not a Kubernetes object"):
        load_documents([bad])


def _stages(dockerfile: str) -> list[str]:
    return re.split(r"(?m)^FROM ", dockerfile)[1:]


def test_dockerfile_builds_with_maturin_and_runs_slim_non_root_without_compilers() -> None:
    stages = _stages(DOCKERFILE.read_text())
    assert len(stages) >= 2, "multi-stage: a build stage and a runtime stage"
    build, runtime = stages[0], stages[-1]
    assert "maturin build --release" in build
    assert "--from=build" in runtime
    instructions = [line for line in runtime.splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(instructions)
    for compiler in ("gcc", "g++", "build-essential", "rustc", "cargo", "rustup", "maturin"):
        assert compiler not in text, f"{compiler} in the runtime stage"
    assert "-slim" in runtime.split()[0], "a slim base image"
    users = re.findall(r"(?m)^USER\s+(\S+)", text)
    assert users, "the runtime stage sets a USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root user (runAsNonRoot checks it)"
    deployment = _one("Deployment")["spec"]["template"]["spec"]
    assert int(uid) == deployment["securityContext"]["runAsUser"]
