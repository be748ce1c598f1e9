"""Text bounded before it leaves podium in a condition, an event, a log line or a span.

Messages quote what users wrote (annotation values, object names), and a message is written
again on every retry: one 250 KiB annotation value quoted whole made a 250 KB condition message
and a 500 KB log line per attempt. The core quotes such values bounded already (the first 200
bytes, an ellipsis and the length); this is the net at the boundary, for whole messages and for
whatever Python itself quotes. A cut text keeps its head, then ``…`` and its length in bytes.
"""

from __future__ import annotations

__all__ = [
    "MAX_CONDITION_BYTES",
    "MAX_LOG_VALUE_BYTES",
    "MAX_QUOTED_BYTES",
    "MAX_SPAN_ATTRIBUTE_CHARS",
    "bound",
    "quoted",
]

# One quoted value (as the core's `bounded::MAX_QUOTED_BYTES`).
MAX_QUOTED_BYTES = 200
# A PodScheduled condition's message: room for a diagnosis with many reasons.
MAX_CONDITION_BYTES = 4096
# A log line's message, and each of its fields.
MAX_LOG_VALUE_BYTES = 4096
# A span's string attributes (OpenTelemetry counts characters, and cuts without a marker).
MAX_SPAN_ATTRIBUTE_CHARS = 4096


def bound(text: str, max_bytes: int) -> str:
    """``text`` if it takes at most ``max_bytes`` bytes of UTF-8, else its head and
    ``… (N bytes)``, the whole at most ``max_bytes`` bytes."""
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    suffix = f"… ({len(encoded)} bytes)"
    keep = max(max_bytes - len(suffix.encode()), 0)
    # "ignore" drops a character the cut went through.
    return encoded[:keep].decode("utf-8", "ignore") + suffix


def quoted(value: object) -> str:
    """``repr(value)`` bounded as the core bounds the values it quotes: at most its first
    ``MAX_QUOTED_BYTES`` bytes, then ``… (N bytes)``."""
    text = repr(value)
    encoded = text.encode()
    if len(encoded) <= MAX_QUOTED_BYTES:
        return text
    return encoded[:MAX_QUOTED_BYTES].decode("utf-8", "ignore") + f"… ({len(encoded)} bytes)"
