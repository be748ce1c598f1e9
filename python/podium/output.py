"""``--output`` of the commands that print a result: a table for people, JSON for programs."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["OutputFormat"]


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
