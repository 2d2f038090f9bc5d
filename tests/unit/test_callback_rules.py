"""The callback rules without I/O: which addresses are public, which URLs and events a
registration may name, and the retry schedule."""

from __future__ import annotations

import ipaddress

import pytest

from micromailer.callbacks.events import (
    CALLBACK_EVENTS,
    UnknownEventError,
    parse_events,
    subscribed,
)
from micromailer.callbacks.schedule import RetrySchedule, parse_retry_schedule
from micromailer.callbacks.tokens import new_secret, new_webhook_id
from micromailer.callbacks.urls import (
    RefusedUrlError,
    check_addresses,
    is_public,
    parse_callback_url,
)
from micromailer.config import DEFAULT_CALLBACK_RETRY_SCHEDULE, Settings
from tests.support.fakes import T0


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "::1", "10.0.0.1", "172.16.5.4", "192.168.0.1",
    "169.254.169.254", "fe80::1", "fc00::1", "fd12:3456::1", "0.0.0.0", "::", "224.0.0.1",
    "239.255.255.250", "ff02::1", "100.64.0.1", "192.0.2.1", "198.18.0.1", "240.0.0.1",
    "255.255.255.255", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
    "2002:7f00:1::", "2002:a00:1::", "64:ff9b::a9fe:a9fe", "64:ff9b::808:808", "2001:db8::1",
    "fec0::1",
])
def test_addresses_inside_a_network_or_reserved_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [
    "93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001::200e",
    "::ffff:93.184.216.34",
])
def test_public_unicast_addresses_are(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_a_host_with_one_private_address_among_public_ones_is_refused() -> None:
    target = parse_callback_url("https://hooks.example.com/h")

    with pytest.raises(RefusedUrlError) as refused:
        check_addresses(target, ["93.184.216.34", "10.0.0.1"], allow_private=False)
    assert refused.value.kind == "not_public"
    assert check_addresses(target, ["93.184.216.34", "10.0.0.1"], allow_private=True)


def test_a_url_is_parsed_with_its_lookup_name_and_port() -> None:
    target = parse_callback_url("https://Hooks.Exämple.com/h?x=1")

    assert (target.host, target.port, target.https) == ("hooks.xn--exmple-cua.com", 443, True)
    assert parse_callback_url("http://[::1]:8080/h").host == "::1"


def test_events_are_known_once_each_and_star_means_all() -> None:
    assert CALLBACK_EVENTS[:2] == ("sent", "failed")
    assert "unknown" not in CALLBACK_EVENTS
    assert parse_events(["Delivered", "bounced", "delivered"]) == ("delivered", "bounced")
    assert parse_events(["sent", "*"]) == ("*",)
    with pytest.raises(UnknownEventError, match="'opend', which is not an event"):
        parse_events(["opend"])
    assert subscribed("*", "clicked") and subscribed("sent,failed", "failed")
    assert not subscribed("sent,failed", "delivered")


def test_the_default_schedule_spans_more_than_a_day_in_eight_tries() -> None:
    schedule = RetrySchedule.parse(DEFAULT_CALLBACK_RETRY_SCHEDULE)

    assert schedule.tries == 8
    assert sum(schedule.delays) > 24 * 3600
    assert [schedule.retry_in(n) for n in (1, 2, 7, 8)] == [5.0, 300.0, 36000.0, None]


@pytest.mark.parametrize("value", ["5,,10", "5,soon", "-1", "nan", "inf", "1e9"])
def test_a_bad_schedule_is_refused_with_a_sentence(value: str) -> None:
    with pytest.raises(ValueError, match="callback retry schedule"):
        parse_retry_schedule(value)
    with pytest.raises(ValueError, match="callback retry schedule"):
        Settings(_env_file=None, callback_retry_schedule=value)  # type: ignore[call-arg]


def test_secrets_and_webhook_ids_have_the_standard_webhooks_forms() -> None:
    secret = new_secret()
    webhook_id = new_webhook_id(T0)

    assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 44
    assert new_secret() != secret
    assert webhook_id.startswith("msg_") and len(webhook_id) == 36
    assert new_webhook_id(T0) < new_webhook_id(T0.replace(second=1)), "sorted by time"
