"""What a scheduling cycle counts: each pod's result, and the cycle's totals."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CycleResult", "ScheduleResult"]


class ScheduleResult(StrEnum):
    """One pod's scheduling attempt, as kube's ``scheduler_schedule_attempts_total{result}``
    counts it: placed (and handed to binding), fits nowhere, or failed."""

    SCHEDULED = "scheduled"
    UNSCHEDULABLE = "unschedulable"
    ERROR = "error"


@dataclass
class CycleResult:
    scheduled: int = 0
    unschedulable: int = 0
    errors: int = 0
