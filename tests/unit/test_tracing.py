"""Tracing settings: flag/config first, then the standard OTEL_* variables; off means no-op."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from podium.tracing import Tracing, TracingConfigError, TracingOptions

ENDPOINT = "http://collector:4318/v1/traces"


def test_nothing_configured_is_off() -> None:
    options = TracingOptions.resolve(environ={})
    assert options.endpoint is None
    assert not options.enabled
    assert isinstance(Tracing(options).tracer, trace.NoOpTracer)


def test_explicit_settings_win_over_the_environment() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://env:4318/v1/traces",
        "OTEL_TRACES_SAMPLER": "traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.5",
    }
    options = TracingOptions.resolve(endpoint=ENDPOINT, sampling_ratio=0.25, environ=env)
    assert (options.endpoint, options.sampling_ratio) == (ENDPOINT, 0.25)


def test_environment_fills_what_is_not_set() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ENDPOINT,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.01",
        "OTEL_SERVICE_NAME": "podium-eu",
    }
    options = TracingOptions.resolve(environ=env)
    assert options == TracingOptions(ENDPOINT, 0.01, "podium-eu")


def test_generic_endpoint_gets_the_traces_path() -> None:
    options = TracingOptions.resolve(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"})
    assert options.endpoint == "http://c:4318/v1/traces"
    assert options.sampling_ratio == 1.0  # the OTel default sampler: parentbased_always_on


@pytest.mark.parametrize(
    "env", [{"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_EXPORTER": "none"}], ids=str
)
def test_disabled_by_the_environment(env: dict[str, str]) -> None:
    options = TracingOptions.resolve(endpoint=ENDPOINT, sampling_ratio=1.0, environ=env)
    assert not options.enabled


def test_ratio_zero_is_the_no_op_tracer() -> None:
    tracing = Tracing(TracingOptions(ENDPOINT, 0.0))
    assert isinstance(tracing.tracer, trace.NoOpTracer)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
        ({"OTEL_TRACES_SAMPLER": "jaeger_remote"}, "OTEL_TRACES_SAMPLER"),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "x"},
            "OTEL_TRACES_SAMPLER_ARG",
        ),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, "ratio"),
    ],
)
def test_unsupported_settings_are_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(TracingConfigError, match=named):
        TracingOptions.resolve(endpoint=ENDPOINT, environ=env)
