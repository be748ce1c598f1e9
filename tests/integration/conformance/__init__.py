"""podium ⟷ kube-scheduler conformance: a seeded cluster generator and the checks against the core.

``generator`` builds the objects (pure, unit-tested in ``tests/unit``); ``settle`` runs them
through the real kube-scheduler; ``check`` replays the outcome through ``podium._core``.
``dra_generator`` and ``dra_validity`` do the same for DynamicResources (GPU and NIC slices,
claims): its test is ``test_dra_conformance``, and the validity checker judges placements by
itself, independently of podium.
"""
