"""OpenTelemetry tracing: one trace per scheduling cycle, exported over OTLP (e.g. to Jaeger).

Without an endpoint, tracing is a no-op tracer: spans cost next to nothing and nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from podium import __version__

TRACER_NAME = "podium.scheduler"


@dataclass(frozen=True)
class TracingOptions:
    # OTLP/HTTP traces endpoint, e.g. http://jaeger:4318/v1/traces. None disables export.
    endpoint: str | None = None
    sampling_ratio: float = 1.0
    service_name: str = "podium"
    instance: str = ""


class Tracing:
    """Owns the tracer provider so shutdown flushes what is buffered."""

    def __init__(self, options: TracingOptions) -> None:
        if not 0.0 <= options.sampling_ratio <= 1.0:
            raise ValueError(f"tracing sampling ratio: {options.sampling_ratio} not in [0, 1]")
        self._provider: TracerProvider | None = None
        if options.endpoint is None:
            self.tracer: trace.Tracer = trace.NoOpTracer()
            return
        resource = Resource.create(
            {
                "service.name": options.service_name,
                "service.version": __version__,
                "service.instance.id": options.instance,
            }
        )
        self._provider = TracerProvider(
            resource=resource, sampler=ParentBased(TraceIdRatioBased(options.sampling_ratio))
        )
        self._provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=options.endpoint))
        )
        self.tracer = self._provider.get_tracer(TRACER_NAME, __version__)

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.force_flush()
            self._provider.shutdown()
