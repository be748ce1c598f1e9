"""Users' text bounded at podium's edges: conditions, events, log lines, spans."""

from __future__ import annotations

import logging

import orjson

from podium.bounded import MAX_LOG_VALUE_BYTES, MAX_QUOTED_BYTES, bound, quoted
from podium.logs import JsonFormatter, TextFormatter, fields

HUGE = "x" * 250_123


def test_bound_keeps_short_text_and_cuts_long_text_with_its_length() -> None:
    assert bound("short", 10) == "short"
    cut = bound(HUGE, 1024)
    assert len(cut.encode()) <= 1024
    assert cut.startswith("xxx") and cut.endswith("… (250123 bytes)")
    # A cut never leaves half a character: "é" is two bytes.
    accented = bound("é" * 600, 301)
    assert len(accented.encode()) <= 301 and "\ufffd" not in accented
    assert accented.endswith("… (1200 bytes)")


def test_quoted_is_repr_up_to_the_cores_bound() -> None:
    assert quoted("single") == "'single'"
    assert quoted(7) == "7"
    long = quoted(HUGE)
    assert long.endswith("… (250125 bytes)"), long[-40:]  # repr adds the two quotes
    assert len(long.encode()) <= MAX_QUOTED_BYTES + len("… (250125 bytes)".encode())


def _record(message: str, **values: object) -> logging.LogRecord:
    record = logging.LogRecord("podium.test", logging.ERROR, __file__, 1, message, (), None)
    for key, value in fields(**values).items():
        setattr(record, key, value)
    return record


def test_log_lines_stay_bounded_whatever_they_quote() -> None:
    limit = 3 * MAX_LOG_VALUE_BYTES
    json_line = JsonFormatter().format(_record(f"pod: {HUGE}", reason=HUGE, score=3))
    assert len(json_line.encode()) < limit
    entry = orjson.loads(json_line)
    assert entry["msg"].endswith("… (250128 bytes)")
    assert entry["reason"].endswith("… (250123 bytes)")
    assert entry["score"] == 3
    text_line = TextFormatter().format(_record(f"pod: {HUGE}", reason=HUGE))
    assert len(text_line.encode()) < limit
    assert "… (250128 bytes)" in text_line and "… (250123 bytes)" in text_line
