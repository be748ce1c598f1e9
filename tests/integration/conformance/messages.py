"""Compares kube-scheduler's FailedScheduling message with podium's, so wording drifts fail.

Both are ``0/N nodes are available: <count> <reason>, ... .`` (kube may append what preemption
found). They cannot be compared as text: kube-scheduler wrote its message at the pod's last
attempt, podium judges the final state, and nodes get fuller in between (see ``generator``).
So the comparison is by reason, split by what can change over time (both schedulers run the
filters in the same order and report a node's first failing one):

- *Load* reasons (resources, ports, pod (anti-)affinity, topology spread) may differ in which
  appear and how often; each one, on either side, must still be spelled as kube-scheduler 1.36
  spells it (``LOAD_REASONS``).
- *Late* static reasons (``LATE_REASONS``: volumes, a spread's missing label) come from filters
  that run after the load ones: a node refused by one then may be refused for load later, so
  podium may count it less often, never more.
- Every other reason (cordon, taints, node names, node affinity and selector, PreFilter
  rejections) depends on nothing a placement changes and comes from a filter that runs before
  any load one: its node count must be the same on both sides. A reason spelled otherwise on one
  side shows up here, as counted by one side only.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

# kube-scheduler 1.36's reasons whose node counts change as pods are placed (noderesources,
# nodeports, interpodaffinity, podtopologyspread).
LOAD_REASONS = frozenset(
    {
        "Too many pods",
        "node(s) didn't have free ports for the requested pod ports",
        "node(s) didn't match pod affinity rules",
        "node(s) didn't match pod anti-affinity rules",
        "node(s) didn't satisfy existing pods anti-affinity rules",
        "node(s) didn't match pod topology spread constraints",
    }
)
# kube-scheduler 1.36's reasons of filters after NodeResourcesFit that no placement changes
# (volumebinding, podtopologyspread).
LATE_REASONS = frozenset(
    {
        "node(s) didn't match PersistentVolume's node affinity",
        "node(s) didn't find available persistent volumes to bind",
        "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)",
        "node(s) didn't match pod topology spread constraints (missing required label)",
    }
)
_INSUFFICIENT = re.compile(r"Insufficient [a-z0-9][a-z0-9./_-]*")

# The filters' part ends at the first ". ": what follows is PostFilter's (kube 1.36 says
# "no new claims to deallocate, preemption: ..."), not compared.
_FORM = re.compile(r"^0/(\d+) nodes are available: (.*?)\.(?: .*)?$", re.DOTALL)
_COUNTED = re.compile(r"^(\d+) (.+)$")


@dataclass(frozen=True)
class Parsed:
    nodes: int
    # Reason -> nodes; a PreFilter rejection (no count) counts for every node.
    reasons: Counter[str]


def parse(message: str) -> Parsed | None:
    """The node total and reasons of a message in kube's form; None when it is not in it."""
    match = _FORM.match(message)
    if match is None:
        return None
    nodes = int(match.group(1))
    reasons: Counter[str] = Counter()
    for part in re.split(r", (?=\d+ )", match.group(2)):
        counted = _COUNTED.match(part)
        if counted is None:
            reasons[part] += nodes
        else:
            reasons[counted.group(2)] += int(counted.group(1))
    return Parsed(nodes, reasons)


def is_load_reason(reason: str) -> bool:
    return reason in LOAD_REASONS or _INSUFFICIENT.fullmatch(reason) is not None


def differences(kube: str, podium: str) -> list[str]:
    """What makes podium's message disagree with kube-scheduler's (empty: they agree)."""
    theirs, ours = parse(kube), parse(podium)
    if theirs is None or ours is None:
        return [f"not kube's message form: {(kube if theirs is None else podium)!r}"]
    problems: list[str] = []
    if theirs.nodes != ours.nodes:
        problems.append(f"node totals differ: kube 0/{theirs.nodes}, podium 0/{ours.nodes}")
    for reason in sorted(theirs.reasons.keys() | ours.reasons.keys()):
        kube_count, podium_count = theirs.reasons[reason], ours.reasons[reason]
        if is_load_reason(reason):
            continue
        if reason in LATE_REASONS:
            if podium_count > kube_count:
                problems.append(f"{reason!r}: kube {kube_count} node(s), podium {podium_count}")
            continue
        if kube_count != podium_count:
            problems.append(f"{reason!r}: kube {kube_count} node(s), podium {podium_count}")
    return problems
