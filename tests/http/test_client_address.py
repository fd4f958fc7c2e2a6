"""Who the client is: the peer, or what trusted proxies say in X-Forwarded-For."""

from __future__ import annotations

import pytest
from falcon import testing

from entrypoints.http.client_address import ClientAddress, canonical
from settings import parse_networks

PROXIES = parse_networks("10.0.0.0/8, 192.168.1.1, 2001:db8::/32")


def client_of(address: ClientAddress, peer: str, forwarded: str | None = None) -> str:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    return address(testing.create_req(remote_addr=peer, headers=headers))


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_claims() -> None:
    address = ClientAddress([])
    assert client_of(address, "203.0.113.9", "198.51.100.1") == "203.0.113.9"


def test_an_untrusted_peer_cannot_claim_another_address() -> None:
    address = ClientAddress(PROXIES)
    for forged in ("198.51.100.1", "198.51.100.1, 10.0.0.5", "garbage", ""):
        assert client_of(address, "203.0.113.9", forged) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_forwarded_client_is_the_client() -> None:
    address = ClientAddress(PROXIES)
    assert client_of(address, "10.0.0.1", "203.0.113.9") == "203.0.113.9"
    assert client_of(address, "192.168.1.1", "203.0.113.7") == "203.0.113.7"


def test_the_rightmost_untrusted_hop_wins_over_what_the_client_prepended() -> None:
    address = ClientAddress(PROXIES)
    # The client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended its peer.
    assert client_of(address, "10.0.0.1", "1.2.3.4, 203.0.113.9") == "203.0.113.9"


def test_a_chain_of_trusted_proxies_is_walked_back_to_the_client() -> None:
    address = ClientAddress(PROXIES)
    forwarded = "1.2.3.4, 203.0.113.9, 192.168.1.1, 10.20.30.40"
    assert client_of(address, "10.0.0.1", forwarded) == "203.0.113.9"


def test_spacing_in_the_header_does_not_matter() -> None:
    address = ClientAddress(PROXIES)
    assert client_of(address, "10.0.0.1", " 1.2.3.4 ,203.0.113.9 ,") == "203.0.113.9"


def test_a_trusted_proxy_that_forwards_nothing_is_itself_the_client() -> None:
    address = ClientAddress(PROXIES)
    assert client_of(address, "10.0.0.1") == "10.0.0.1"


def test_ipv6_peers_and_hops_are_understood_and_limited_per_64() -> None:
    address = ClientAddress(PROXIES)
    forwarded = "2001:db8:ffff::2, 2a00::1"
    assert client_of(address, "2001:db8::1", forwarded) == "2a00::/64"
    assert client_of(address, "2a00::9", "203.0.113.9") == "2a00::/64"
    # Rotating addresses inside one /64 does not buy a fresh quota.
    assert client_of(address, "2a00::1:2:3:4") == client_of(address, "2a00::5")
    assert client_of(address, "2a00:0:0:1::5") != client_of(address, "2a00::5")


def test_trusted_proxies_may_be_written_as_ipv4_mapped_ipv6() -> None:
    address = ClientAddress(parse_networks("::ffff:10.0.0.0/104"))
    assert client_of(address, "10.0.0.5", "9.9.9.9") == "9.9.9.9"
    assert client_of(address, "::ffff:10.0.0.5", "9.9.9.9") == "9.9.9.9"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("10.0.0.0/8", ["10.0.0.0/8"]),
        (" 127.0.0.1 , ::1 ,", ["127.0.0.1/32", "::1/128"]),
        ("10.1.2.3/8", ["10.0.0.0/8"]),
    ],
)
def test_trusted_proxies_are_parsed_from_addresses_and_cidrs(
    text: str, expected: list[str]
) -> None:
    assert [str(n) for n in parse_networks(text)] == expected


def test_a_malformed_trusted_proxy_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_networks("10.0.0.0/8, not-an-address")


@pytest.mark.parametrize(
    ("spelling", "client"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("203.0.113.9:5555", "203.0.113.9"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        (" not-an-ip ", "not-an-ip"),
    ],
)
def test_each_client_has_one_spelling_whatever_port_or_form_it_arrives_in(
    spelling: str, client: str
) -> None:
    assert canonical(spelling) == client


def test_a_trusted_proxy_written_with_a_port_or_ipv4_mapped_is_still_trusted() -> None:
    address = ClientAddress(parse_networks("10.0.0.0/8"))
    forwarded = "198.51.100.7:4000, 10.0.0.2:80"
    assert client_of(address, "::ffff:10.0.0.1", forwarded) == "198.51.100.7"


@pytest.mark.parametrize(
    "forwarded", ["not-an-ip", "x" * 4000, "203.0.113.9, bogus", "[::1"]
)
def test_a_forwarded_hop_that_is_not_an_address_counts_as_the_proxy(
    forwarded: str, caplog: pytest.LogCaptureFixture
) -> None:
    address = ClientAddress(PROXIES)
    assert client_of(address, "10.0.0.1", forwarded) == "10.0.0.1"
    assert client_of(address, "10.0.0.1", forwarded + "x") == "10.0.0.1"
    said = [r for r in caplog.records if "not an IP address" in r.getMessage()]
    assert len(said) == 1  # once, not per request
    assert len(said[0].getMessage()) < 300
