"""A screenshot of one of podium's scheduling-cycle traces in the Jaeger UI, by headless Chromium.

    python -m podium.testing.trace_screenshot --jaeger-ui DIR [--out docs/jaeger-trace.png]

Starts a local apiserver, Jaeger serving the jaeger-ui build in DIR (``packages/jaeger-ui/build``
of the jaeger-ui repository: a Jaeger built from its Go module embeds only a placeholder page) and
``podium run`` exporting every cycle to it; schedules a few pods (one of them too big), then has
Chromium render the trace with the most spans at ``/trace/<id>``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from podium.kubeclient import api_client
from podium.rawapi import request_bytes
from podium.testing.cluster import LocalCluster
from podium.testing.jaeger import Jaeger
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod
from podium.testing.replica import Replica, scheduler_config

# Without the background-networking switches Chromium tries to reach Google at start-up and, on a
# closed network, never gets to the page.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # The UI fetches the trace after its first paint: give it time before the shot.
    "--virtual-time-budget=15000",
)


class ScreenshotError(RuntimeError):
    pass


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise ScreenshotError("no Chromium found (Debian: apt-get install chromium)")


def screenshot(url: str, out: Path, size: tuple[int, int] = (1600, 1000)) -> None:
    with tempfile.TemporaryDirectory(prefix="podium-chromium-") as profile:
        result = subprocess.run(
            [
                chromium(),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={size[0]},{size[1]}",
                f"--screenshot={out}",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if result.returncode != 0 or not out.exists():
        raise ScreenshotError(f"chromium failed ({result.returncode}): {result.stderr[-2000:]}")


async def _schedule_some_pods(cluster: LocalCluster, namespace: str) -> None:
    api = await api_client(cluster.kubeconfig, qps=0.0, burst=64)
    async with api:
        await request_bytes(
            api,
            "POST",
            "/api/v1/namespaces",
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        )
        await create_nodes(
            api, [make_node(f"gpu-{i}", cpu="32", memory="256Gi", gpus=8) for i in range(4)]
        )
        pods = [
            make_pod(
                f"trainer-{i}",
                namespace,
                scheduler_name="podium",
                requests={"cpu": "4", "nvidia.com/gpu": "2"},
            )
            for i in range(6)
        ]
        pods.append(make_pod("too-big", namespace, scheduler_name="podium", requests={"cpu": "64"}))
        for pod in pods:
            await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)


def _richest_trace(jaeger: Jaeger, limit: float = 120.0) -> str:
    """The id of the cycle trace with the most spans, once one with binds has arrived."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        traces: list[dict[str, Any]] = jaeger.traces("podium", operation="scheduling_cycle")
        complete = [
            t for t in traces if any(s["operationName"] == "bind_attempt" for s in t["spans"])
        ]
        if complete:
            return str(max(complete, key=lambda t: len(t["spans"]))["traceID"])
        time.sleep(1.0)
    raise ScreenshotError("no scheduling cycle with binds reached Jaeger")


def take(jaeger_ui: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="podium-screenshot-") as tmp:
        workdir = Path(tmp)
        with LocalCluster() as cluster, Jaeger(ui_assets=jaeger_ui) as jaeger:
            if not jaeger.serves_real_ui():
                raise ScreenshotError(
                    f"{jaeger_ui} is not a jaeger-ui build: Jaeger serves its placeholder"
                )
            replica = Replica(
                "podium",
                cluster.kubeconfig,
                scheduler_config("default", podium_args={"traceSampleRatio": 1.0}),
                workdir,
                trace_endpoint=f"{jaeger.otlp_endpoint}/v1/traces",
            )
            try:
                deadline = time.monotonic() + 60
                while not replica.leads():
                    if time.monotonic() > deadline or replica.exit_code() is not None:
                        raise ScreenshotError(f"podium did not start:\n{replica.log_tail()}")
                    time.sleep(0.5)
                asyncio.run(_schedule_some_pods(cluster, "demo"))
                trace_id = _richest_trace(jaeger)
                screenshot(f"{jaeger.query_url}/trace/{trace_id}?uiEmbed=v0", out)
            finally:
                replica.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jaeger-ui", type=Path, required=True, help="a jaeger-ui build directory")
    parser.add_argument("--out", type=Path, default=Path("docs/jaeger-trace.png"))
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        take(args.jaeger_ui.resolve(), args.out.resolve())
    except ScreenshotError as err:
        print(f"trace_screenshot: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
