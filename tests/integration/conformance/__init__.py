"""podium ⟷ kube-scheduler conformance: a seeded cluster generator and the checks against the core.

``generator`` builds the objects (pure, unit-tested in ``tests/unit``); ``settle`` runs them
through the real kube-scheduler; ``check`` replays the outcome through ``podium._core``.
"""
