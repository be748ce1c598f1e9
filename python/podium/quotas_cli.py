"""``podium quotas``: every ElasticQuota with its min, max and use per resource, what it borrows
and lends, and its pending pods, read from the cluster as the scheduler's cache would hold it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from podium.quota_view import QuotaRow, quota_rows

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console

    from podium.output import OutputFormat

__all__ = ["render", "run_quotas", "to_json"]


def _amount(resource: str, value: int | None) -> str:
    if value is None:
        return "-"
    if resource == "cpu":
        return f"{value // 1000}" if value % 1000 == 0 else f"{value}m"
    if resource == "memory" and value and value % (1 << 30) == 0:
        return f"{value >> 30}Gi"
    return str(value)


def to_json(rows: list[QuotaRow]) -> list[dict[str, Any]]:
    return [
        {
            "namespace": row.namespace,
            "name": row.name,
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
        for row in rows
    ]


def render(console: Console, rows: list[QuotaRow]) -> None:
    from rich.table import Table

    if not rows:
        console.print("no ElasticQuotas")
        return
    table = Table("QUOTA", "RESOURCE", "USED", "MIN", "MAX", "BORROWED", "LENT", "PENDING PODS")
    for row in rows:
        first = True
        for r in row.resources:
            table.add_row(
                f"{row.namespace}/{row.name}" if first else "",
                r.resource,
                _amount(r.resource, r.used),
                _amount(r.resource, r.min),
                _amount(r.resource, r.max),
                _amount(r.resource, r.borrowed),
                _amount(r.resource, r.lent),
                str(row.pending_pods) if first else "",
            )
            first = False
    console.print(table)


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
    rows = quota_rows(state.quotas(), state.pending())
    if output == OutputFormat.JSON:
        print(orjson.dumps(to_json(rows), option=orjson.OPT_INDENT_2).decode())
    else:
        render(Console(), rows)
    return 0
