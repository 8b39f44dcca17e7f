"""Which failure counter a client address falls in: what the client controls must not give it
a fresh one."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.requests import Request

from infrastructure.settings import Settings
from interfaces.http.security import client_key, forwarded_header_options


def request_from(host: str) -> Request:
    return Request({"type": "http", "client": (host, 50000), "headers": []})


def test_an_ipv6_client_is_counted_by_its_64_so_hopping_addresses_gains_nothing() -> None:
    hops = {client_key(request_from(f"2001:db8:1:2::{n:x}")) for n in range(1, 50)}

    assert hops == {"address:2001:db8:1:2::/64"}
    assert client_key(request_from("2001:db8:1:3::1")) != hops.pop()


def test_an_ipv4_client_is_counted_by_its_address_however_it_is_written() -> None:
    assert client_key(request_from("192.0.2.7")) == "address:192.0.2.7"
    assert client_key(request_from("::ffff:192.0.2.7")) == "address:192.0.2.7"
    assert client_key(request_from("192.0.2.8")) != "address:192.0.2.7"


def test_forwarded_headers_are_believed_from_the_configured_proxies_only() -> None:
    assert forwarded_header_options(Settings(_env_file=None).trusted_proxy_list) == {
        "proxy_headers": False,
        "forwarded_allow_ips": [],
    }
    configured = Settings(_env_file=None, trusted_proxies="10.0.0.7/24, 192.0.2.1")
    assert forwarded_header_options(configured.trusted_proxy_list) == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["10.0.0.0/24", "192.0.2.1"],
    }


def test_a_trusted_proxy_must_be_an_address_or_a_network() -> None:
    # '*' or a host name would let anyone who reaches Vigil name their own address.
    for wrong in ("*", "proxy.internal", "10.0.0.300"):
        with pytest.raises(ValidationError, match="not an IP address or network"):
            Settings(_env_file=None, trusted_proxies=wrong)
