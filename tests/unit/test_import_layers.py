"""The import-linter contracts name every module of podium, so a new module gets a place in the
layering, and is kept from the test tooling, rather than sitting outside the checks."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path
from typing import Any

import podium

ROOT = Path(__file__).resolve().parents[2]
# Above the scheduler: what may import podium.testing and podium.benchmarks.
TOOLING = {"podium.__main__", "podium.cli", "podium.demo", "podium.benchmarks", "podium.testing"}


def contract(kind: str) -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (found,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == kind]
    return dict(found)


def modules() -> set[str]:
    return {
        f"podium.{m.name}"
        for m in pkgutil.iter_modules(podium.__path__)
        # The compiled core sits below every layer; grimp cannot see inside it.
        if m.name != "_core"
    }


def test_the_layers_contract_names_every_module() -> None:
    named = {m.strip() for layer in contract("layers")["layers"] for m in layer.split("|")}
    assert modules() - named == set(), "modules missing from the layers contract"
    assert named - modules() == set(), "the contract names modules that do not exist"


def test_every_scheduler_module_is_kept_from_the_test_tooling() -> None:
    forbidden = contract("forbidden")
    assert set(forbidden["forbidden_modules"]) == {"podium.testing", "podium.benchmarks"}
    assert set(forbidden["source_modules"]) == modules() - TOOLING
