"""The Helm chart (deploy/helm/podium) as Helm sees it: lint, rendering, and the same CRDs and
least-privilege RBAC as deploy/ (so the two cannot drift). Installing it against the apiserver
and scheduling as its ServiceAccount is tests/e2e/test_helm_install.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from podium.config import load_config
from podium.testing.crds import deploy_crds_dir
from podium.testing.helm import HelmError, chart_dir, helm, render
from podium.testing.manifests import deploy_dir, kustomization_paths, load_documents

pytestmark = pytest.mark.timeout(120)


def _one(kind: str, objects: Iterable[Mapping[str, Any]]) -> Mapping[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def _deploy() -> list[dict[str, Any]]:
    return load_documents(kustomization_paths(deploy_dir()))


def test_helm_lint_passes(helm_binary: Path) -> None:
    out = helm(helm_binary, "lint", "--strict", str(chart_dir()))
    assert "0 chart(s) failed" in out, out
    with_monitor = helm(
        helm_binary,
        "lint",
        "--strict",
        str(chart_dir()),
        "--set=metrics.serviceMonitor.enabled=true",
        "--set=tracing.endpoint=http://collector:4318/v1/traces",
    )
    assert "0 chart(s) failed" in with_monitor, with_monitor


def test_crds_are_deploys_own_files() -> None:
    """crds/ holds the very files of deploy/crds: one set of CRDs, two ways to install it."""
    chart = {p.name: p.read_bytes() for p in (chart_dir() / "crds").glob("*.yaml")}
    deploy = {p.name: p.read_bytes() for p in deploy_crds_dir().glob("*.yaml")}
    assert chart == deploy


def test_renders_what_deploy_installs(helm_binary: Path) -> None:
    objects = render(helm_binary, include_crds=True)
    kinds = Counter(o["kind"] for o in objects)
    deploy = Counter(o["kind"] for o in _deploy() if o["kind"] != "Namespace")
    # The release's namespace is helm's (--create-namespace), not the chart's.
    assert kinds == deploy
    assert all(o["metadata"].get("namespace") in (None, "podium-system") for o in objects)


def _rules(role: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(rule) for rule in role["rules"]]


def test_rbac_is_exactly_deploys(helm_binary: Path) -> None:
    chart = render(helm_binary)
    deploy = _deploy()
    for kind in ("ClusterRole", "Role"):
        assert _rules(_one(kind, chart)) == _rules(_one(kind, deploy)), kind
    # Bound to the chart's own ServiceAccount, in the release's namespace.
    account = _one("ServiceAccount", chart)["metadata"]
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        binding = _one(kind, chart)
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account["name"], "namespace": "podium-system"}
        ]
        role_kind = binding["roleRef"]["kind"]
        assert binding["roleRef"]["name"] == _one(role_kind, chart)["metadata"]["name"]
    assert (
        _one("Deployment", chart)["spec"]["template"]["spec"]["serviceAccountName"]
        == (account["name"])
    )


def test_config_leads_in_the_release_namespace_on_the_lease_its_role_allows(
    helm_binary: Path, tmp_path: Path
) -> None:
    objects = render(
        helm_binary,
        namespace="sched",
        values={"leaderElection.resourceName": "podium-a", "metrics.port": 10300},
    )
    path = tmp_path / "config.yaml"
    path.write_text(_one("ConfigMap", objects)["data"]["config.yaml"])
    config = load_config(path)
    election = config.leader_election
    assert (election.leader_elect, election.resource_namespace) == (True, "sched")
    role = _one("Role", objects)
    named = [rule for rule in role["rules"] if rule.get("resourceNames")]
    assert named[0]["resourceNames"] == [election.resource_name] == ["podium-a"]
    assert list(config.scheduler_names) == ["podium"]
    container = _one("Deployment", objects)["spec"]["template"]["spec"]["containers"][0]
    assert "--listen=0.0.0.0:10300" in container["args"]
    assert container["ports"][0]["containerPort"] == 10300


def test_values_reach_the_deployment(helm_binary: Path) -> None:
    objects = render(
        helm_binary,
        values={
            "replicas": 3,
            "image.repository": "registry.example/podium",
            "image.tag": "9.9.9",
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
            "tracing.endpoint": "http://collector:4318/v1/traces",
            "tracing.sampleRatio": 0.5,
        },
    )
    deployment = _one("Deployment", objects)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["replicas"] == 3
    assert container["image"] == "registry.example/podium:9.9.9"
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"memory": "2Gi"},
    }
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == "http://collector:4318/v1/traces"
    assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.5"
    # deploy/'s lockdown, unchanged.
    assert (
        container["securityContext"]
        == _one("Deployment", _deploy())["spec"]["template"]["spec"]["containers"][0][
            "securityContext"
        ]
    )
    assert "schedulerName" not in pod
    # No endpoint: no exporter configured.
    default = _one("Deployment", render(helm_binary))["spec"]["template"]["spec"]["containers"][0]
    assert "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" not in {e["name"] for e in default["env"]}


def test_service_monitor_only_when_asked(helm_binary: Path) -> None:
    assert not [o for o in render(helm_binary) if o["kind"] in {"ServiceMonitor", "Service"}]
    objects = render(
        helm_binary,
        values={
            "metrics.serviceMonitor.enabled": True,
            "metrics.serviceMonitor.labels": {"release": "prometheus"},
        },
    )
    monitor = _one("ServiceMonitor", objects)
    service = _one("Service", objects)
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    pod_labels = _one("Deployment", objects)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_a_bad_value_is_refused(helm_binary: Path) -> None:
    """The chart renders what it is given; the configuration check is podium's own (the
    config test above loads it): a template error must surface, not an empty render."""
    with pytest.raises(HelmError):
        render(helm_binary, values={"schedulerConfig": "not a mapping"})


def test_values_file_is_valid_yaml_with_the_documented_keys() -> None:
    values = yaml.safe_load((chart_dir() / "values.yaml").read_text())
    assert {
        "image",
        "replicas",
        "schedulerConfig",
        "resources",
        "leaderElection",
        "tracing",
        "metrics",
    } <= set(values)
