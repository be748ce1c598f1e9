"""A minimal OTLP/HTTP trace receiver, run as its own process: decodes and counts what arrives.

The tracing benchmark exports to it so the measured cost includes encoding and sending spans,
while the receiving side runs in another process (as a real collector would), not competing for
podium's GIL. ``GET /stats`` answers ``{"requests": n, "spans": n, "bytes": n}``.

    python -m podium.benchmarks.otlp_sink PORT
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_lock = threading.Lock()
_stats = {"requests": 0, "spans": 0, "bytes": 0}
_EMPTY_RESPONSE = ExportTraceServiceResponse().SerializeToString()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = ExportTraceServiceRequest.FromString(body)
        spans = sum(
            len(scope.spans)
            for resource in request.resource_spans
            for scope in resource.scope_spans
        )
        with _lock:
            _stats["requests"] += 1
            _stats["spans"] += spans
            _stats["bytes"] += len(body)
        self._answer(_EMPTY_RESPONSE, "application/x-protobuf")

    def do_GET(self) -> None:
        with _lock:
            body = orjson.dumps(_stats)
        self._answer(body, "application/json")

    def _answer(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), _Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
