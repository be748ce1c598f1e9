"""``podium run`` as a separate process, as deployed: its config file, JSON log and endpoints.

For the operations tests (metrics, traces, leader election with two replicas): each replica logs
JSON lines to its own file, serves /metrics and /readyz on a free loopback port, and can be
killed, frozen (SIGSTOP) and resumed like a real process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml
from prometheus_client.parser import text_string_to_metric_families

from podium.testing.ports import LOOPBACK, free_ports
from podium.testing.process import ProcessGroup

_HTTP_TIMEOUT_SECONDS = 5.0


def scheduler_config(
    lease_namespace: str,
    *,
    lease_duration: str = "4s",
    renew_deadline: str = "3s",
    retry_period: str = "500ms",
    podium_args: Mapping[str, Any] | None = None,
    qps: int = 500,
    burst: int = 1000,
) -> dict[str, Any]:
    """A KubeSchedulerConfiguration for a test replica: one ``podium`` profile, leader election
    on a Lease in ``lease_namespace`` with short (but correctly ordered) timings."""
    profile: dict[str, Any] = {"schedulerName": "podium"}
    if podium_args:
        profile["pluginConfig"] = [{"name": "Podium", "args": dict(podium_args)}]
    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "leaderElection": {
            "leaderElect": True,
            "leaseDuration": lease_duration,
            "renewDeadline": renew_deadline,
            "retryPeriod": retry_period,
            "resourceName": "podium",
            "resourceNamespace": lease_namespace,
        },
        "clientConnection": {"qps": qps, "burst": burst},
        "profiles": [profile],
    }


class Replica:
    """One ``python -m podium run`` process. Its identity (the Lease holder) starts with
    ``name`` + "_", as a Deployment's pod name would."""

    def __init__(
        self,
        name: str,
        kubeconfig: Path,
        config: Mapping[str, Any],
        workdir: Path,
        *,
        trace_endpoint: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        (port,) = free_ports(1)
        self.listen = f"{LOOPBACK}:{port}"
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(dict(config)))
        self.log_path = workdir / f"{name}.log"
        argv = [
            sys.executable,
            "-m",
            "podium",
            "run",
            f"--config={self.config_path}",
            f"--kubeconfig={kubeconfig}",
            f"--listen={self.listen}",
            "--log-format=json",
        ]
        if trace_endpoint is not None:
            argv.append(f"--trace-endpoint={trace_endpoint}")
        environment = {**os.environ, "POD_NAME": name, **(env or {})}
        self.process = ProcessGroup(argv, self.log_path, env=environment)

    # -- endpoints ----------------------------------------------------------------------------

    def ready(self) -> bool:
        """/readyz answers 200 (caches synced)."""
        try:
            with urllib.request.urlopen(
                f"http://{self.listen}/readyz", timeout=_HTTP_TIMEOUT_SECONDS
            ) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Every sample of /metrics: (name, labels) → value."""
        with urllib.request.urlopen(
            f"http://{self.listen}/metrics", timeout=_HTTP_TIMEOUT_SECONDS
        ) as response:
            text = response.read().decode()
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def metric(self, name: str, **labels: str) -> float:
        """The sum of ``name``'s samples whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(
            value
            for (sample, sample_labels), value in self.metrics().items()
            if sample == name and wanted <= sample_labels
        )

    def leads(self) -> bool:
        """podium_is_leader is 1 (False when the endpoint does not answer)."""
        try:
            return self.metric("podium_is_leader") == 1
        except OSError:
            return False

    # -- log ----------------------------------------------------------------------------------

    def log_entries(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (a line cut off by a kill is skipped)."""
        entries = []
        for line in self.log_path.read_bytes().splitlines():
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
        return entries

    def events(self, event: str) -> list[dict[str, Any]]:
        """Structured log lines with ``event == event`` (``decision``, ``bind``)."""
        return [entry for entry in self.log_entries() if entry.get("event") == event]

    def log_tail(self, lines: int = 40) -> str:
        return self.process.log_tail(lines)

    # -- process ------------------------------------------------------------------------------

    def signal(self, signum: signal.Signals) -> None:
        os.kill(self.process.pid, signum)

    def exit_code(self) -> int | None:
        return self.process.poll()

    def stop(self) -> None:
        """SIGCONT (in case it is frozen), then SIGTERM, then SIGKILL; idempotent."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.signal(signal.SIGCONT)
        self.process.stop()
