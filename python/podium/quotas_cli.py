"""``podium quotas``: the ElasticQuotas as a tree (``podium.dev/parent``), each with its min, max
and use per resource (its subtree's), what it borrows and lends, its weight and fair-share key,
and its pending pods, read from the cluster as the scheduler's cache would hold it."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import orjson

from podium.quota_view import QuotaRow, amount, quota_rows, tree_order

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console

    from podium.output import OutputFormat

__all__ = ["render", "run_quotas", "to_json"]


def _amount(resource: str, value: int | None) -> str:
    return amount(resource, value)


def to_json(rows: list[QuotaRow]) -> list[dict[str, Any]]:
    return [
        {
            "namespace": row.namespace,
            "name": row.name,
            "parent": row.parent,
            "weight": row.weight,
            "fairShareKey": row.share,
            "error": row.error,
            "pendingPods": row.pending_pods,
            "resources": {
                r.resource: {
                    "used": r.used,
                    "min": r.min,
                    "max": r.max,
                    "borrowed": r.borrowed,
                    "lent": r.lent,
                }
                for r in row.resources
            },
        }
        for _, row in tree_order(rows)
    ]


def render(console: Console, rows: list[QuotaRow]) -> None:
    from rich.table import Table

    if not rows:
        console.print("no ElasticQuotas")
        return
    table = Table(
        "QUOTA",
        "WEIGHT",
        "SHARE",
        "RESOURCE",
        "USED",
        "MIN",
        "MAX",
        "BORROWED",
        "LENT",
        "PENDING PODS",
    )
    errors: list[str] = []
    for depth, row in tree_order(rows):
        first = True
        indent = "  " * (depth - 1) + "└─ " if depth else ""
        if row.error is not None:
            errors.append(row.error)
        for r in row.resources or (None,):
            table.add_row(
                f"{indent}{row.namespace}/{row.name}" if first else "",
                f"{row.weight:g}" if first else "",
                f"{row.share:.3f}" if first else "",
                r.resource if r else "-",
                _amount(r.resource, r.used) if r else "-",
                _amount(r.resource, r.min) if r else "-",
                _amount(r.resource, r.max) if r else "-",
                _amount(r.resource, r.borrowed) if r else "-",
                _amount(r.resource, r.lent) if r else "-",
                str(row.pending_pods) if first else "",
            )
            first = False
    console.print(table)
    for error in errors:
        console.print(f"[red]{error}[/red]", markup=True, highlight=False, soft_wrap=True)


async def run_quotas(kubeconfig: Path | None, context: str | None, output: OutputFormat) -> int:
    """The command; its exit code."""
    from rich.console import Console

    from podium.config import default_config
    from podium.explain import load_state
    from podium.kubeclient import api_client
    from podium.output import OutputFormat

    cfg = default_config()
    api = await api_client(kubeconfig, cfg.qps, cfg.burst, context=context)
    try:
        state = await load_state(api, cfg.scheduler_names)
    finally:
        await api.close()
    rows = quota_rows(state.quotas(), Counter(p.namespace for p in state.pending()))
    if output == OutputFormat.JSON:
        print(orjson.dumps(to_json(rows), option=orjson.OPT_INDENT_2).decode())
    else:
        render(Console(), rows)
    return 0
