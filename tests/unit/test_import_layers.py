"""The import-linter layers contract names every module of podium, so a new module gets a place
in the layering (and is checked by ``lint-imports``) rather than sitting outside it."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import podium

ROOT = Path(__file__).resolve().parents[2]


def test_the_layers_contract_names_every_module() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (layers,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    named = {m.strip() for layer in layers["layers"] for m in layer.split("|")}
    modules = {
        f"podium.{m.name}"
        for m in pkgutil.iter_modules(podium.__path__)
        # The compiled core sits below every layer; grimp cannot see inside it.
        if m.name != "_core"
    }
    assert modules - named == set(), "modules missing from the layers contract"
    assert named - modules == set(), "the contract names modules that do not exist"
