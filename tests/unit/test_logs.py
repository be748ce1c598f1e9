"""Structured log lines: fields beside the message in JSON, key=value in text."""

from __future__ import annotations

import logging

import orjson

from podium.logs import JsonFormatter, TextFormatter, fields


def _record(message: str, **values: object) -> logging.LogRecord:
    record = logging.LogRecord("podium.test", logging.INFO, __file__, 1, message, (), None)
    for key, value in fields(**values).items():
        setattr(record, key, value)
    return record


def test_json_puts_fields_beside_the_message() -> None:
    line = JsonFormatter().format(_record("bound", pod="ns/p", node="n1", attempts=2, msg="x"))
    entry = orjson.loads(line)
    assert entry["msg"] == "bound"
    assert (entry["pod"], entry["node"], entry["attempts"]) == ("ns/p", "n1", 2)
    assert entry["field.msg"] == "x"  # a field never hides the line's own keys
    assert entry["level"] == "info"
    assert entry["ts"].endswith("Z")


def test_text_appends_key_value_pairs() -> None:
    line = TextFormatter().format(_record("ns/p: unschedulable", reason="0/3 nodes", node=None))
    assert line.endswith('ns/p: unschedulable reason="0/3 nodes" node=""')


def test_lines_without_fields_are_unchanged() -> None:
    assert TextFormatter().format(_record("plain")).endswith("podium.test: plain")
    assert set(orjson.loads(JsonFormatter().format(_record("plain")))) == {
        "ts",
        "level",
        "logger",
        "msg",
    }
