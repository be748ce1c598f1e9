"""Logging setup: plain text for people, one JSON object per line for log pipelines.

A log call may carry structured fields through ``extra=fields(...)``: the JSON formatter puts them
beside ``msg`` as top-level keys, the text formatter appends them as ``key=value``.
"""

from __future__ import annotations

import logging
import sys
import time
from enum import StrEnum

import orjson

from podium.bounded import MAX_LOG_VALUE_BYTES, bound


class LogFormat(StrEnum):
    """``--log-format``: plain text for people, one JSON object per line for pipelines."""

    TEXT = "text"
    JSON = "json"


_FIELDS = "podium_fields"
_RESERVED = frozenset({"ts", "level", "logger", "msg", "exc"})


def fields(**values: object) -> dict[str, object]:
    """``extra=`` for a logging call: ``log.info("bound", extra=fields(pod=..., node=...))``."""
    return {_FIELDS: values}


def record_fields(record: logging.LogRecord) -> dict[str, object]:
    """The structured fields a record carries (empty when it has none)."""
    values = getattr(record, _FIELDS, None)
    return values if isinstance(values, dict) else {}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": bound(record.getMessage(), MAX_LOG_VALUE_BYTES),
        }
        for key, value in record_fields(record).items():
            # A field never hides one of the line's own keys.
            entry[f"field.{key}" if key in _RESERVED else key] = _bounded(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def _bounded(value: object) -> object:
    """A field as the line carries it: text bounded, anything else as it is."""
    return bound(value, MAX_LOG_VALUE_BYTES) if isinstance(value, str) else value


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = bound(record.message, MAX_LOG_VALUE_BYTES)
        line = super().formatMessage(record)
        extra = record_fields(record)
        if not extra:
            return line
        pairs = " ".join(f"{key}={_text_value(value)}" for key, value in extra.items())
        return f"{line} {pairs}"


def _text_value(value: object) -> str:
    text = "" if value is None else bound(str(value), MAX_LOG_VALUE_BYTES)
    # Quote what would otherwise run into the next pair.
    return orjson.dumps(text).decode() if not text or " " in text or "=" in text else text


def setup_logging(log_format: LogFormat, level: str) -> None:
    levels = logging.getLevelNamesMapping()
    if level.upper() not in levels:
        raise ValueError(f"--log-level: {level!r} is not one of {', '.join(levels)}")
    numeric = levels[level.upper()]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format is LogFormat.JSON else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
