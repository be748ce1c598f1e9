"""OpenTelemetry tracing: one trace per scheduling cycle, exported over OTLP/HTTP (e.g. to Jaeger).

Settings come from podium's config (``otlpEndpoint``, ``traceSampleRatio``) or the ``--trace-
endpoint`` flag, else from the standard ``OTEL_*`` variables, as the OpenTelemetry spec orders
explicit configuration before the environment. Without an endpoint, or at ratio 0, or with
``OTEL_SDK_DISABLED=true`` / ``OTEL_TRACES_EXPORTER=none``, the tracer is a no-op: nothing is
exported and a span costs a function call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from podium import __version__
from podium.bounded import MAX_SPAN_ATTRIBUTE_CHARS

TRACER_NAME = "podium.scheduler"
DEFAULT_SERVICE_NAME = "podium"
# What OTEL_TRACES_SAMPLER may name, as a sampling ratio. Cycles are trace roots, so the
# parent-based variants decide the same as the plain ones.
_SAMPLERS_WITHOUT_ARG = {
    "always_on": 1.0,
    "parentbased_always_on": 1.0,
    "always_off": 0.0,
    "parentbased_always_off": 0.0,
}
_RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio")
_PROTOCOL = "http/protobuf"


class TracingConfigError(ValueError):
    """An ``OTEL_*`` variable or tracing setting podium cannot honour."""


@dataclass(frozen=True)
class TracingOptions:
    # OTLP/HTTP traces endpoint, e.g. http://jaeger:4318/v1/traces. None disables tracing.
    endpoint: str | None = None
    sampling_ratio: float = 1.0
    service_name: str = DEFAULT_SERVICE_NAME
    instance: str = ""

    @property
    def enabled(self) -> bool:
        return self.endpoint is not None and self.sampling_ratio > 0.0

    @classmethod
    def resolve(
        cls,
        *,
        endpoint: str | None = None,
        sampling_ratio: float | None = None,
        instance: str = "",
        environ: Mapping[str, str] | None = None,
    ) -> TracingOptions:
        """Explicit ``endpoint``/``sampling_ratio`` (flag or config) first, then ``OTEL_*``.

        Raises TracingConfigError for a variable set to something podium does not support."""
        env = os.environ if environ is None else environ
        service_name = env.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
        if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return cls(None, 0.0, service_name, instance)
        exporter = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
        if exporter == "none":
            return cls(None, 0.0, service_name, instance)
        if exporter != "otlp":
            raise TracingConfigError(
                f"OTEL_TRACES_EXPORTER={exporter!r}: podium exports traces over OTLP only "
                "(otlp or none)"
            )
        for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
            protocol = env.get(variable)
            if protocol:
                if protocol.strip() != _PROTOCOL:
                    raise TracingConfigError(
                        f"{variable}={protocol!r}: podium sends OTLP over HTTP ({_PROTOCOL})"
                    )
                break
        if endpoint is None:
            endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or None
        if endpoint is None and env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            # The spec's rule: the generic endpoint is a base URL, the signal's path is appended.
            endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
        ratio = _env_ratio(env) if sampling_ratio is None else sampling_ratio
        if not 0.0 <= ratio <= 1.0:
            raise TracingConfigError(f"tracing sampling ratio {ratio} is not in [0, 1]")
        return cls(endpoint, ratio, service_name, instance)


def _env_ratio(env: Mapping[str, str]) -> float:
    sampler = env.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    if sampler in _SAMPLERS_WITHOUT_ARG:
        return _SAMPLERS_WITHOUT_ARG[sampler]
    if sampler not in _RATIO_SAMPLERS:
        raise TracingConfigError(
            f"OTEL_TRACES_SAMPLER={sampler!r}: podium supports "
            f"{', '.join([*_SAMPLERS_WITHOUT_ARG, *_RATIO_SAMPLERS])}"
        )
    argument = env.get("OTEL_TRACES_SAMPLER_ARG", "1.0")
    try:
        return float(argument)
    except ValueError as err:
        raise TracingConfigError(
            f"OTEL_TRACES_SAMPLER_ARG={argument!r}: expected a ratio in [0, 1]"
        ) from err


class Tracing:
    """Owns the tracer provider so shutdown flushes what is buffered.

    ``exporter`` replaces the OTLP exporter (benchmarks measure the pipeline without a network
    peer); it is used only when tracing is enabled."""

    def __init__(self, options: TracingOptions, exporter: SpanExporter | None = None) -> None:
        if not 0.0 <= options.sampling_ratio <= 1.0:
            raise TracingConfigError(
                f"tracing sampling ratio: {options.sampling_ratio} not in [0, 1]"
            )
        self.options = options
        self._provider: TracerProvider | None = None
        if not options.enabled:
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
            resource=resource,
            sampler=ParentBased(TraceIdRatioBased(options.sampling_ratio)),
            # A net for attributes that quote users' text (reasons, diagnoses): the core bounds
            # each value it quotes, this bounds the whole attribute.
            span_limits=SpanLimits(max_span_attribute_length=MAX_SPAN_ATTRIBUTE_CHARS),
        )
        self._provider.add_span_processor(
            BatchSpanProcessor(exporter or OTLPSpanExporter(endpoint=options.endpoint))
        )
        self.tracer = self._provider.get_tracer(TRACER_NAME, __version__)

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.force_flush()
            self._provider.shutdown()
