"""podium's Helm chart (``deploy/helm/podium``) through the ``helm`` command (built from its Go
module by ``podium.testing.binaries``): lint, render, install into a cluster."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import yaml

from podium.testing.binaries import cache_root
from podium.testing.manifests import deploy_dir


class HelmError(RuntimeError):
    """``helm`` failed; the message holds its output."""


def chart_dir() -> Path:
    """``deploy/helm/podium`` of the repository checkout."""
    return deploy_dir() / "helm" / "podium"


def helm(binary: Path, *args: str, kubeconfig: Path | None = None, timeout: float = 120.0) -> str:
    """Runs ``helm args...`` (its caches and config in a throwaway home); its stdout."""
    argv = [str(binary), *args]
    if kubeconfig is not None:
        argv.append(f"--kubeconfig={kubeconfig}")
    home = cache_root() / "helm-home"
    env = {
        # Its kube client caches discovery under $HOME/.kube: not in the caller's directory.
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if done.returncode != 0:
        raise HelmError(f"`{' '.join(argv)}` exited {done.returncode}:\n{done.stderr}{done.stdout}")
    return done.stdout


def _set_flags(values: Mapping[str, Any]) -> list[str]:
    # --set-json keeps types (numbers, booleans, objects) as given.
    return [f"--set-json={key}={orjson.dumps(value).decode()}" for key, value in values.items()]


def render(
    binary: Path,
    *,
    release: str = "podium",
    namespace: str = "podium-system",
    values: Mapping[str, Any] | None = None,
    include_crds: bool = False,
) -> list[dict[str, Any]]:
    """``helm template``: the chart's objects for these values (``values`` keys are --set paths,
    e.g. ``metrics.serviceMonitor.enabled``)."""
    args = ["template", release, str(chart_dir()), f"--namespace={namespace}"]
    if include_crds:
        args.append("--include-crds")
    out = helm(binary, *args, *_set_flags(values or {}))
    return [d for d in yaml.safe_load_all(out) if d]


def install(
    binary: Path,
    kubeconfig: Path,
    *,
    release: str,
    namespace: str,
    values: Mapping[str, Any] | None = None,
    extra: Sequence[str] = (),
) -> str:
    """``helm install`` into ``namespace`` (created); its output."""
    return helm(
        binary,
        "install",
        release,
        str(chart_dir()),
        f"--namespace={namespace}",
        "--create-namespace",
        *_set_flags(values or {}),
        *extra,
        kubeconfig=kubeconfig,
    )


def uninstall(binary: Path, kubeconfig: Path, *, release: str, namespace: str) -> str:
    return helm(binary, "uninstall", release, f"--namespace={namespace}", kubeconfig=kubeconfig)
