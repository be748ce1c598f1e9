"""KubeSchedulerConfiguration loading: defaults, a full file, and each kind of error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from podium._core import Profile as CoreProfile
from podium.config import (
    DEFAULT_FILTERS,
    DEFAULT_SCORES,
    IMPLEMENTED,
    ConfigError,
    default_config,
    load_config,
    parse_config,
    parse_duration,
)

REPO = Path(__file__).resolve().parents[2]

HEADER = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"

FULL = (
    HEADER
    + """
parallelism: 8
enableProfiling: false
percentageOfNodesToScore: 50
podInitialBackoffSeconds: 2
podMaxBackoffSeconds: 20
clientConnection:
  qps: 200
  burst: 400
leaderElection:
  leaderElect: true
  leaseDuration: 1m
  renewDeadline: 30s
  retryPeriod: 0m2.5s
  resourceName: podium-lock
  resourceNamespace: podium-system
profiles:
  - schedulerName: podium
    plugins:
      multiPoint:
        enabled:
          - name: NodeResourcesBalancedAllocation
            weight: 4
      score:
        disabled:
          - name: TaintToleration
        enabled:
          - name: NodeAffinity
            weight: 7
      filter:
        disabled:
          - name: NodePorts
    pluginConfig:
      - name: NodeResourcesFit
        args:
          apiVersion: kubescheduler.config.k8s.io/v1
          kind: NodeResourcesFitArgs
          scoringStrategy:
            type: RequestedToCapacityRatio
            resources:
              - name: nvidia.com/gpu
                weight: 5
              - name: cpu
            requestedToCapacityRatio:
              shape:
                - {utilization: 0, score: 0}
                - {utilization: 100, score: 10}
      - name: Podium
        args:
          batchSize: 512
          bindConcurrency: 32
          bindRetries: 3
          bindTimeout: 250ms
          numaDefaultPolicy: single
  - schedulerName: podium-spread
    percentageOfNodesToScore: 10
    plugins:
      multiPoint:
        disabled:
          - name: "*"
        enabled:
          - name: NodeResourcesFit
      filter:
        enabled:
          - name: NodeName
"""
)


def _errors(data: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "test.yaml")
    assert "test.yaml" in str(info.value)
    return info.value.errors


def _cfg(**extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        **extra,
    }


def test_defaults_without_a_file() -> None:
    config = load_config(None)
    assert config.scheduler_names == ["podium"]
    assert config.pod_initial_backoff_seconds == 1
    assert config.pod_max_backoff_seconds == 10
    assert config.leader_election.lease_duration == 15
    assert config.leader_election.renew_deadline == 10
    assert config.leader_election.retry_period == 2
    spec = config.profiles[0].core_spec()
    assert spec["schedulerName"] == "podium"
    assert spec["filters"] == [
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "VolumeBinding",
        "PodTopologySpread",
        "InterPodAffinity",
        "DynamicResources",
        "NodeResourceTopologyMatch",
        "CapacityScheduling",
    ]
    assert spec["scores"] == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "NodeResourcesFit": 1,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
        "DynamicResources": 2,
        "NUMAPacking": 5,
    }
    assert spec["fit"] == {
        "strategy": "LeastAllocated",
        "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}],
        "shape": [],
    }
    assert spec["parallelism"] == 16
    assert spec["percentageOfNodesToScore"] == 0


def test_defaults_only_name_implemented_plugins() -> None:
    spec = load_config(None).profiles[0].core_spec()
    assert set(spec["filters"]) <= IMPLEMENTED
    assert set(spec["scores"]) <= IMPLEMENTED
    # The order of the full default list is kept for what is implemented.
    assert spec["filters"] == [p for p in DEFAULT_FILTERS if p in IMPLEMENTED]


def test_minimal_file_equals_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(HEADER)
    assert load_config(path) == load_config(None)


def test_full_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(FULL)
    config = load_config(path)
    assert config.parallelism == 8
    assert config.qps == 200
    assert config.burst == 400
    assert config.pod_initial_backoff_seconds == 2
    assert config.pod_max_backoff_seconds == 20
    le = config.leader_election
    assert (le.lease_duration, le.renew_deadline, le.retry_period) == (60, 30, 2.5)
    assert (le.resource_name, le.resource_namespace) == ("podium-lock", "podium-system")

    first, second = config.profiles
    assert first.percentage_of_nodes_to_score == 50
    assert "NodePorts" not in first.filters
    assert first.scores["NodeAffinity"] == 7
    assert first.scores["NodeResourcesBalancedAllocation"] == 4
    assert "TaintToleration" not in first.scores
    assert first.podium.batch_size == 512
    assert first.podium.bind_concurrency == 32
    assert first.podium.bind_retries == 3
    assert first.podium.bind_timeout == pytest.approx(0.25)
    assert config.podium is first.podium
    spec = first.core_spec()
    assert spec["fit"] == {
        "strategy": "RequestedToCapacityRatio",
        "resources": [{"name": "nvidia.com/gpu", "weight": 5}, {"name": "cpu", "weight": 1}],
        "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}],
    }
    assert spec["podium"]["numaDefaultPolicy"] == "single"

    # "*" dropped every default; the explicit filter runs first, then the multiPoint one.
    assert second.filters == ("NodeName", "NodeResourcesFit")
    assert second.scores == {"NodeResourcesFit": 1}
    assert second.percentage_of_nodes_to_score == 10
    assert config.profile("podium-spread") is second
    assert config.profile("nope") is None


def test_json_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(orjson.dumps(_cfg(parallelism=4)))
    assert load_config(path).parallelism == 4


def test_score_weight_below_one() -> None:
    errors = _errors(
        _cfg(
            profiles=[
                {
                    "plugins": {
                        "score": {
                            "enabled": [
                                {"name": "NodeAffinity", "weight": 2},
                                {"name": "TaintToleration", "weight": 0},
                            ]
                        }
                    }
                }
            ]
        )
    )
    assert errors == [
        "profiles[0].plugins.score.enabled[1].weight: must be an integer >= 1 (got 0)"
    ]


def test_unknown_fields_are_named() -> None:
    errors = _errors(_cfg(profiles=[{"schedulerNmae": "x"}], extenders=[]))
    assert "profiles[0].schedulerNmae: unknown field" in errors
    assert "extenders: unknown field" in errors


def test_wrong_types_are_named() -> None:
    errors = _errors(_cfg(parallelism="8", clientConnection={"burst": 1.5}))
    assert any(e.startswith("parallelism: must be an integer (got string") for e in errors)
    assert any(e.startswith("clientConnection.burst: must be an integer") for e in errors)


def test_missing_api_version_and_bad_kind() -> None:
    errors = _errors({"kind": "Pod"})
    assert "apiVersion: required field is missing" in errors
    assert any(e.startswith("kind: must be 'KubeSchedulerConfiguration'") for e in errors)


def test_top_level_not_a_mapping() -> None:
    assert _errors(["a"])[0].startswith("top level must be a mapping")


def test_unknown_plugin_names_are_named() -> None:
    errors = _errors(
        _cfg(
            profiles=[
                {
                    "plugins": {
                        "filter": {"enabled": [{"name": "NodeFoo"}]},
                        "score": {"disabled": [{"name": "Bar"}]},
                        "bind": {"enabled": [{"name": "MyBinder"}]},
                    },
                    "pluginConfig": [{"name": "Baz", "args": {}}],
                }
            ]
        )
    )
    assert errors == [
        "profiles[0].plugins.bind.enabled[0].name: unknown plugin 'MyBinder'",
        "profiles[0].plugins.filter.enabled[0].name: unknown plugin 'NodeFoo'",
        "profiles[0].plugins.score.disabled[0].name: unknown plugin 'Bar'",
        "profiles[0].pluginConfig[0].name: unknown plugin 'Baz'",
    ]


def test_plugin_at_the_wrong_extension_point() -> None:
    errors = _errors(_cfg(profiles=[{"plugins": {"score": {"enabled": [{"name": "NodePorts"}]}}}]))
    assert errors == [
        "profiles[0].plugins.score.enabled[0].name: "
        "plugin 'NodePorts' does not implement this extension point"
    ]


def test_filter_weight_is_refused() -> None:
    errors = _errors(
        _cfg(profiles=[{"plugins": {"filter": {"enabled": [{"name": "NodeName", "weight": 3}]}}}])
    )
    assert errors == [
        "profiles[0].plugins.filter.enabled[0].weight: only score plugins have a weight"
    ]


def test_known_but_unimplemented_plugin() -> None:
    unimplemented = "VolumeRestrictions"
    assert unimplemented not in IMPLEMENTED
    errors = _errors(
        _cfg(profiles=[{"plugins": {"filter": {"enabled": [{"name": unimplemented}]}}}])
    )
    assert errors == [
        f"profiles[0].plugins.filter.enabled[0].name: "
        f"plugin {unimplemented!r} is not implemented by podium yet"
    ]


def test_plugin_args_errors_carry_their_path() -> None:
    errors = _errors(
        _cfg(
            profiles=[
                {"schedulerName": "a"},
                {
                    "schedulerName": "b",
                    "pluginConfig": [
                        {
                            "name": "NodeResourcesFit",
                            "args": {"scoringStrategy": {"type": "RequestedToCapacityRatio"}},
                        },
                        {"name": "Podium", "args": {"batchSize": 0, "bindTimeout": "1q"}},
                        {"name": "VolumeRestrictions", "args": {}},
                        {"name": "PodTopologySpread", "args": {"defaultingType": "Some"}},
                    ],
                },
            ]
        )
    )
    assert errors == [
        "profiles[1].pluginConfig[0].args.scoringStrategy: "
        "requestedToCapacityRatio is required for type RequestedToCapacityRatio",
        "profiles[1].pluginConfig[1].args.batchSize: must be an integer >= 1 (got 0)",
        "profiles[1].pluginConfig[1].args.bindTimeout: "
        'must be a duration like "15s" or "1m30s" (got \'1q\')',
        "profiles[1].pluginConfig[2].name: podium does not support args for plugin "
        "'VolumeRestrictions'",
        "profiles[1].pluginConfig[3].args.defaultingType: must be 'System' or 'List' (got 'Some')",
    ]


def test_shape_must_increase() -> None:
    args = {
        "scoringStrategy": {
            "type": "RequestedToCapacityRatio",
            "requestedToCapacityRatio": {
                "shape": [{"utilization": 50, "score": 1}, {"utilization": 50, "score": 11}]
            },
        }
    }
    errors = _errors(
        _cfg(profiles=[{"pluginConfig": [{"name": "NodeResourcesFit", "args": args}]}])
    )
    assert errors == [
        "profiles[0].pluginConfig[0].args.scoringStrategy.requestedToCapacityRatio.shape[1].score: "
        "must be an integer <= 10 (got 11)",
    ]


def test_duplicate_profiles_and_backoff_order() -> None:
    errors = _errors(
        _cfg(
            profiles=[{"schedulerName": "x"}, {"schedulerName": "x"}],
            podInitialBackoffSeconds=5,
            podMaxBackoffSeconds=2,
        )
    )
    assert errors == [
        "profiles[1].schedulerName: duplicate name 'x'",
        "podMaxBackoffSeconds: must be >= podInitialBackoffSeconds (5)",
    ]


def test_leader_election_timings() -> None:
    errors = _errors(_cfg(leaderElection={"leaseDuration": "5s"}))
    assert errors == ["leaderElection: leaseDuration must be greater than renewDeadline"]
    errors = _errors(_cfg(leaderElection={"retryPeriod": 15}))
    assert errors == ['leaderElection.retryPeriod: must be a duration string like "15s" (got 15)']


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("profiles: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15), ("1m30s", 90), ("250ms", 0.25), ("1h", 3600), ("1.5s", 1.5), ("0", 0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "15", "s", "-1s", "1d", "1s2"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="must be a duration"):
        parse_duration(text)


def test_the_deployed_configmap_loads() -> None:
    configmap = yaml.safe_load((REPO / "deploy" / "configmap.yaml").read_text())
    config = parse_config(yaml.safe_load(configmap["data"]["config.yaml"]), "deploy/configmap.yaml")
    assert config.scheduler_names == ["podium"]


def test_numa_plugin_args_reach_the_core_spec() -> None:
    cfg = parse_config(
        _cfg(
            profiles=[
                {
                    "pluginConfig": [
                        {
                            "name": "NodeResourceTopologyMatch",
                            "args": {"gpuResources": ["amd.com/gpu"], "nicResources": []},
                        },
                        {
                            "name": "NUMAPacking",
                            "args": {
                                "weights": {"nodeFit": 7, "stranding": 0.5},
                                "waitingSizes": [8],
                            },
                        },
                    ]
                }
            ]
        ),
        "test.yaml",
    )
    profile = cfg.profiles[0]
    assert "NodeResourceTopologyMatch" in profile.filters
    assert profile.scores["NUMAPacking"] == DEFAULT_SCORES["NUMAPacking"]
    numa = profile.core_spec()["podium"]["numa"]
    assert numa["gpuResources"] == ["amd.com/gpu"] and numa["nicResources"] == []
    assert (numa["weights"]["nodeFit"], numa["weights"]["stranding"]) == (7, 0.5)
    assert numa["weights"]["wholeNode"] == 3.0
    assert numa["waitingSizes"] == [8]
    CoreProfile(profile.core_spec())  # the core accepts what config writes


def test_numa_plugin_args_are_validated() -> None:
    errors = _errors(
        _cfg(
            profiles=[
                {
                    "pluginConfig": [
                        {"name": "NUMAPacking", "args": {"weights": {"nodeFit": -1}}},
                        {"name": "NodeResourceTopologyMatch", "args": {"gpus": []}},
                    ]
                }
            ]
        )
    )
    assert any("pluginConfig[0].args.weights.nodeFit" in e for e in errors), errors
    assert any("pluginConfig[1].args.gpus" in e for e in errors), errors


def test_reservation_args_reach_the_core_spec_and_are_validated() -> None:
    default = default_config().profiles[0].core_spec()["podium"]["reservation"]
    assert default == {"resources": ["nvidia.com/gpu"], "minShare": 1.0, "maxNodeShare": 0.25}
    cfg = parse_config(
        _cfg(
            profiles=[
                {
                    "pluginConfig": [
                        {
                            "name": "Podium",
                            "args": {
                                "reservation": {
                                    "resources": ["amd.com/gpu"],
                                    "minShare": 0.5,
                                    "maxNodeShare": 0,
                                }
                            },
                        }
                    ]
                }
            ]
        ),
        "test.yaml",
    )
    spec = cfg.profiles[0].core_spec()["podium"]["reservation"]
    assert spec == {"resources": ["amd.com/gpu"], "minShare": 0.5, "maxNodeShare": 0}
    CoreProfile(cfg.profiles[0].core_spec())
    errors = _errors(
        _cfg(
            profiles=[
                {
                    "pluginConfig": [
                        {"name": "Podium", "args": {"reservation": {"minShare": 0}}},
                    ]
                }
            ]
        )
    )
    assert any("pluginConfig[0].args.reservation.minShare" in e for e in errors), errors


def test_topology_levels_reach_the_core_and_bad_ones_are_named() -> None:
    levels = [
        "cloud.provider.com/topology-block",
        "nvidia.com/gpu.clique",
        "kubernetes.io/hostname",
    ]
    cfg = parse_config(
        _cfg(profiles=[{"pluginConfig": [{"name": "Podium", "args": {"topologyLevels": levels}}]}]),
        "test.yaml",
    )
    spec = cfg.profiles[0].core_spec()
    assert spec["podium"]["topologyLevels"] == levels
    CoreProfile(spec)
    assert (
        "topologyLevels" not in parse_config(_cfg(), "test.yaml").profiles[0].core_spec()["podium"]
    )
    for args, where in [
        (
            {"topologyLevels": ["a/b", "Bad Key"]},
            "pluginConfig[0].args.topologyLevels[1]: invalid value 'Bad Key'",
        ),
        ({"topologyLevels": ["a/b", "a/b"]}, "topologyLevels[1]: 'a/b' is already level 0"),
        ({"topologyLevels": []}, "pluginConfig[0].args.topologyLevels"),
        ({"rackLabel": "-rack"}, "pluginConfig[0].args.rackLabel"),
    ]:
        errors = _errors(_cfg(profiles=[{"pluginConfig": [{"name": "Podium", "args": args}]}]))
        assert any(where in e for e in errors), (args, errors)
