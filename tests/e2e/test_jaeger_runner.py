"""The Jaeger runner of podium.testing: spans sent over OTLP/HTTP come back from the query API."""

from __future__ import annotations

import time
import uuid

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from podium.testing.jaeger import Jaeger

pytestmark = pytest.mark.timeout(120)


def test_spans_sent_over_otlp_are_queryable(jaeger: Jaeger) -> None:
    service = f"podium-test-{uuid.uuid4().hex[:8]}"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{jaeger.otlp_endpoint}/v1/traces"))
    )
    tracer = provider.get_tracer("podium.tests")
    with tracer.start_as_current_span("cycle") as cycle:
        cycle.set_attribute("podium.pods", 3)
        with tracer.start_as_current_span("filter"):
            pass
    provider.shutdown()

    traces: list[dict[str, object]] = []
    for _ in range(100):
        traces = jaeger.traces(service)
        if traces:
            break
        # Storage is written asynchronously: poll, bounded; not a timing assertion.
        time.sleep(0.1)

    assert service in jaeger.services()
    assert len(traces) == 1
    spans = traces[0]["spans"]
    assert isinstance(spans, list)
    by_name = {span["operationName"]: span for span in spans}
    assert sorted(by_name) == ["cycle", "filter"]
    tags = {tag["key"]: tag["value"] for tag in by_name["cycle"]["tags"]}
    assert tags["podium.pods"] == 3
    parent = by_name["filter"]["references"][0]
    assert parent["refType"] == "CHILD_OF"
    assert parent["spanID"] == by_name["cycle"]["spanID"]
