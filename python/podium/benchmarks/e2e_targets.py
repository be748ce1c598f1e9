"""DESIGN §8's end-to-end targets, checked against a load report: podium's pods/s at least 0.9
of the bind ceiling's and above kube-scheduler's, and its p99 creation→bound latency lower than
kube-scheduler's, per workload and creation mode. Measured and reported, never asserted."""

from __future__ import annotations

import math

from podium.benchmarks.e2e_load import CaseResult, LoadReport
from podium.benchmarks.e2e_schedulers import CEILING, KUBE_SCHEDULER, PODIUM
from podium.benchmarks.e2e_workloads import PODIUM_ONLY_WORKLOADS
from podium.benchmarks.targets import TargetCheck

CEILING_SHARE = 0.9


def _case(report: LoadReport, scheduler: str, workload: str, mode: str) -> CaseResult | None:
    return next(
        (
            c
            for c in report.cases
            if (c.scheduler, c.workload, c.mode) == (scheduler, workload, mode) and c.status == "ok"
        ),
        None,
    )


def evaluate(report: LoadReport) -> list[TargetCheck]:
    checks = []
    # Gangs run on podium alone: nothing to compare against.
    for workload in (w for w in report.options.workloads if w not in PODIUM_ONLY_WORKLOADS):
        for mode in report.options.modes:
            podium = _case(report, PODIUM, workload, mode)
            ceiling = _case(report, CEILING, workload, mode)
            kube = _case(report, KUBE_SCHEDULER, workload, mode)
            where = f"{workload}, {mode}"
            checks.append(
                _compare(
                    f"{where}: podium pods/s >= {CEILING_SHARE} x bind ceiling",
                    _rate(podium),
                    CEILING_SHARE * _rate(ceiling),
                    op=">=",
                    unit="/s",
                )
            )
            checks.append(
                _compare(
                    f"{where}: podium pods/s > kube-scheduler",
                    _rate(podium),
                    _rate(kube),
                    op=">",
                    unit="/s",
                )
            )
            checks.append(
                _compare(
                    f"{where}: podium p99 latency < kube-scheduler",
                    _p99(podium),
                    _p99(kube),
                    op="<",
                    unit=" ms",
                )
            )
    return checks


def _rate(case: CaseResult | None) -> float:
    return case.pods_per_s if case is not None else math.nan


def _p99(case: CaseResult | None) -> float:
    return case.latency_ms_p99 if case is not None else math.nan


_OPS = {">=": float.__ge__, ">": float.__gt__, "<": float.__lt__}


def _compare(name: str, measured: float, bound: float, *, op: str, unit: str) -> TargetCheck:
    if math.isnan(measured) or math.isnan(bound):
        return TargetCheck(name, f"{op} the other", "a case missing or incomplete", "not measured")
    wanted = f"{op} {bound:,.0f}{unit}"
    met = _OPS[op](measured, bound)
    return TargetCheck(name, wanted, f"{measured:,.0f}{unit}", "met" if met else "missed")
