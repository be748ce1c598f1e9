"""Leader election: the record parsing and the local-clock expiry rules, without an apiserver."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, cast

import pytest

from podium.leader import (
    LeaderElector,
    LeaseObserver,
    default_identity,
    format_micro_time,
    parse_micro_time,
    parse_record,
)

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

OWN_DURATION = 15.0


def valid_spec(holder: str = "other", renew: str = "2026-11-23T17:50:42.123456Z") -> dict[str, Any]:
    return {
        "holderIdentity": holder,
        "leaseDurationSeconds": 10,
        "acquireTime": "2026-11-23T17:00:00.000000Z",
        "renewTime": renew,
        "leaseTransitions": 3,
    }


# --- MicroTime ---------------------------------------------------------------------------------


def test_format_micro_time_is_utc_with_six_fraction_digits() -> None:
    moment = datetime(2026, 11, 23, 17, 50, 42, 123456, tzinfo=UTC)
    assert format_micro_time(moment) == "2026-11-23T17:50:42.123456Z"
    assert format_micro_time(moment.replace(microsecond=0)) == "2026-11-23T17:50:42.000000Z"


def test_format_micro_time_converts_other_zones_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2026, 11, 23, 19, 50, 42, 5, tzinfo=plus_two)
    assert format_micro_time(moment) == "2026-11-23T17:50:42.000005Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T17:50:42.123456Z", datetime(2026, 11, 23, 17, 50, 42, 123456, tzinfo=UTC)),
        ("2026-11-23T17:50:42Z", datetime(2026, 11, 23, 17, 50, 42, tzinfo=UTC)),
        ("2026-11-23T17:50:42.123456789Z", datetime(2026, 11, 23, 17, 50, 42, 123456, tzinfo=UTC)),
        ("2026-11-23T19:50:42.5+02:00", datetime(2026, 11, 23, 17, 50, 42, 500000, tzinfo=UTC)),
    ],
)
def test_parse_micro_time_accepts_rfc3339(text: str, expected: datetime) -> None:
    assert parse_micro_time(text) == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "2026-11-23", "2026-11-23 17:50:42Z", "2026-11-23T17:50:42", ""]
)
def test_parse_micro_time_rejects_non_rfc3339(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_micro_time(text)


def test_micro_time_round_trips() -> None:
    moment = datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert parse_micro_time(format_micro_time(moment)) == moment


# --- record parsing ----------------------------------------------------------------------------


def test_valid_record() -> None:
    record = parse_record(valid_spec())
    assert record.problems == ()
    assert record.holder == "other"
    assert record.lease_duration == 10
    assert record.acquire_time == "2026-11-23T17:00:00.000000Z"
    assert record.transitions == 3
    assert record.effective_duration(OWN_DURATION) == 10.0


def test_empty_spec_is_a_free_lease() -> None:
    record = parse_record({})
    assert record.holder == ""
    assert record.problems == ()
    assert record.transitions == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("holderIdentity", 5),
        ("leaseDurationSeconds", "10"),
        ("leaseDurationSeconds", 0),
        ("leaseDurationSeconds", True),
        ("leaseDurationSeconds", 1.5),
        ("acquireTime", "yesterday"),
        ("renewTime", 1700000000),
        ("leaseTransitions", -1),
        ("leaseTransitions", "3"),
    ],
)
def test_malformed_field_is_named(field: str, value: object) -> None:
    spec = valid_spec()
    spec[field] = value
    record = parse_record(spec)
    assert len(record.problems) == 1
    assert record.problems[0].startswith(f"spec.{field}:")
    assert repr(value) in record.problems[0]


def test_holder_without_duration_is_malformed() -> None:
    record = parse_record({"holderIdentity": "ghost"})
    assert record.holder == "ghost"
    assert record.problems == ("spec.leaseDurationSeconds: missing while the lease has a holder",)
    assert record.effective_duration(OWN_DURATION) == OWN_DURATION


def test_unreadable_holder_is_unknown_not_free() -> None:
    spec = valid_spec()
    spec["holderIdentity"] = ["a", "b"]
    record = parse_record(spec)
    assert record.holder is None


@pytest.mark.parametrize("spec", [None, [], "lease", 7])
def test_spec_that_is_not_an_object(spec: object) -> None:
    record = parse_record(spec)
    assert record.holder is None
    assert record.problems[0].startswith("spec:")


def test_malformed_record_waits_at_least_our_own_duration() -> None:
    spec = valid_spec()
    spec["leaseDurationSeconds"] = 1
    spec["renewTime"] = "garbage"
    assert parse_record(spec).effective_duration(OWN_DURATION) == OWN_DURATION
    spec["leaseDurationSeconds"] = 60
    assert parse_record(spec).effective_duration(OWN_DURATION) == 60.0


# --- expiry by the local clock -----------------------------------------------------------------


def test_expiry_counts_from_local_observation_not_from_renew_time() -> None:
    # renewTime is years in the past by any clock, yet the record was only just seen: a follower
    # must wait the full leaseDurationSeconds from now, since the holder's clock may differ.
    observer = LeaseObserver()
    observer.observe(valid_spec(renew="2001-01-01T00:00:00.000000Z"), now=100.0)
    assert not observer.may_acquire("me", now=100.0, fallback_duration=OWN_DURATION)
    assert not observer.may_acquire("me", now=109.999, fallback_duration=OWN_DURATION)
    assert observer.may_acquire("me", now=110.0, fallback_duration=OWN_DURATION)


def test_unchanged_record_keeps_its_observation_time() -> None:
    observer = LeaseObserver()
    assert observer.observe(valid_spec(), now=100.0)
    assert not observer.observe(valid_spec(), now=105.0)
    assert observer.observed_at == 100.0
    assert observer.may_acquire("me", now=110.0, fallback_duration=OWN_DURATION)


def test_renewal_restarts_the_expiry_clock() -> None:
    observer = LeaseObserver()
    observer.observe(valid_spec(renew="2026-11-23T17:50:42.000000Z"), now=100.0)
    assert observer.observe(valid_spec(renew="2026-11-23T17:50:44.000000Z"), now=108.0)
    assert not observer.may_acquire("me", now=110.0, fallback_duration=OWN_DURATION)
    assert observer.may_acquire("me", now=118.0, fallback_duration=OWN_DURATION)


def test_free_and_own_leases_may_be_taken_at_once() -> None:
    observer = LeaseObserver()
    observer.observe(valid_spec(holder=""), now=100.0)
    assert observer.may_acquire("me", now=100.0, fallback_duration=OWN_DURATION)
    assert not observer.held_by_other("me")
    observer.observe(valid_spec(holder="me"), now=101.0)
    assert observer.may_acquire("me", now=101.0, fallback_duration=OWN_DURATION)
    assert not observer.held_by_other("me")
    assert observer.held_by_other("you")


def test_malformed_lease_is_held_for_our_duration_after_first_sight() -> None:
    observer = LeaseObserver()
    observer.observe({"holderIdentity": "ghost"}, now=50.0)
    assert observer.held_by_other("me")
    assert not observer.may_acquire("me", now=64.9, fallback_duration=OWN_DURATION)
    assert observer.may_acquire("me", now=65.0, fallback_duration=OWN_DURATION)


def test_unknown_holder_counts_as_someone_else() -> None:
    observer = LeaseObserver()
    observer.observe({"holderIdentity": 42, "leaseDurationSeconds": 1}, now=0.0)
    assert observer.held_by_other("me")
    assert not observer.may_acquire("me", now=10.0, fallback_duration=OWN_DURATION)
    assert observer.may_acquire("me", now=15.0, fallback_duration=OWN_DURATION)


# --- construction ------------------------------------------------------------------------------

NO_API = cast("ApiClient", object())


def test_defaults_match_kube_scheduler() -> None:
    elector = LeaderElector(NO_API)
    assert (elector.lease_duration, elector.renew_deadline, elector.retry_period) == (15, 10, 2)
    assert (elector.name, elector.namespace) == ("podium", "kube-system")
    assert elector.identity.startswith(socket.gethostname() + "_")
    assert not elector.is_leader


def test_identities_are_unique_per_process_start() -> None:
    assert default_identity() != default_identity()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"lease_duration": 10.0, "renew_deadline": 10.0}, "lease_duration"),
        ({"renew_deadline": 2.4, "retry_period": 2.0}, "renew_deadline"),
        ({"retry_period": 0.0}, "retry_period"),
        ({"lease_duration": -1.0}, "lease_duration"),
        ({"identity": ""}, "identity"),
        ({"name": ""}, "name"),
        ({"namespace": ""}, "namespace"),
    ],
)
def test_bad_settings_are_rejected_by_name(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"LeaderElector: {field}"):
        LeaderElector(NO_API, **kwargs)
