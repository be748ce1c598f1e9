"""The bind ceiling: a "scheduler" that decides nothing. It binds each pending pod of its
schedulerName to the next node round-robin, through the same client (qps, burst) and with the
same bind concurrency as podium, so its pods/s is the most the apiserver takes on this machine.

``python -m podium.benchmarks.ceiling --kubeconfig K --scheduler-name S --ready-file F``
(the load benchmark starts it as a process, to measure its CPU and memory like any scheduler).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from podium.benchmarks.podwatch import watch
from podium.kubeclient import api_client
from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

log = logging.getLogger("podium.benchmarks.ceiling")


async def node_names(api: ApiClient, label_selector: str | None) -> list[str]:
    query: dict[str, str | int | bool] = {"labelSelector": label_selector} if label_selector else {}
    body = orjson.loads(await request_bytes(api, "GET", "/api/v1/nodes", query=query))
    return sorted(item["metadata"]["name"] for item in body["items"])


async def bind_round_robin(
    api: ApiClient,
    scheduler_name: str,
    nodes: Sequence[str],
    *,
    concurrency: int,
    opened: asyncio.Event | None = None,
) -> None:
    """Binds every pending pod of ``scheduler_name`` as it appears, until cancelled."""
    if not nodes:
        raise ValueError("the bind ceiling needs at least one node")
    next_node = itertools.cycle(nodes)
    limit = asyncio.Semaphore(concurrency)
    in_flight: set[asyncio.Task[None]] = set()
    seen: set[str] = set()

    async def bind(namespace: str, name: str, uid: str, node: str) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        async with limit:
            try:
                await request_bytes(
                    api, "POST", f"/api/v1/namespaces/{namespace}/pods/{name}/binding", body=body
                )
            except ApiStatusError as error:
                log.warning("bind %s/%s: %s", namespace, name, error)

    selector = f"spec.schedulerName={scheduler_name},spec.nodeName="
    async for _, kind, pod in watch(api, "/api/v1/pods", field_selector=selector, opened=opened):
        meta = pod["metadata"]
        if kind == "DELETED" or meta["uid"] in seen:
            continue
        seen.add(meta["uid"])
        task = asyncio.create_task(
            bind(meta["namespace"], meta["name"], meta["uid"], next(next_node))
        )
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)


async def _main(args: argparse.Namespace) -> None:
    api = await api_client(args.kubeconfig, args.qps, args.burst)
    async with api:
        nodes = await node_names(api, args.node_selector)
        opened = asyncio.Event()
        binder = asyncio.create_task(
            bind_round_robin(
                api, args.scheduler_name, nodes, concurrency=args.concurrency, opened=opened
            )
        )
        await opened.wait()
        args.ready_file.write_text(f"{len(nodes)} nodes\n")
        await binder


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--scheduler-name", required=True)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--node-selector", default=None, help="label selector of the nodes")
    parser.add_argument("--qps", type=float, default=5000.0)
    parser.add_argument("--burst", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=64, help="binds in flight")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_main(args))


if __name__ == "__main__":
    main()
