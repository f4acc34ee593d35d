"""The destination policy on its own: every refused range by its rule, every spelling of an
address, names checked on what they resolve to (through a resolver double: no real lookup, and no
packet leaves), the allow list, and URLs made sendable or masked."""

from __future__ import annotations

import socket
from ipaddress import ip_address

import pytest

from wamulti.destinations.hosts import literal_address
from wamulti.destinations.policy import DestinationPolicy, allowed_networks
from wamulti.destinations.urls import UnsendableUrl, masked_url, sendable_url
from wamulti.errors import DestinationNotAllowed


class FakeResolver:
    """A getaddrinfo double: answers fixed addresses for every name and records what was asked."""

    def __init__(self, *addresses: str):
        self.addresses = addresses
        self.asked: list[str] = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        self.asked.append(host)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in self.addresses]


# host as written in a URL -> the rule named in the refusal (None: allowed)
REFUSED_LITERALS = [
    ("127.0.0.1", "loopback"), ("127.1", "loopback"), ("2130706433", "loopback"), ("0177.0.0.1", "loopback"),
    ("0x7f.1", "loopback"), ("0x7F000001", "loopback"), ("017700000001", "loopback"), ("127.0.0.1.", "loopback"),
    ("①②⑦.0.0.1", "loopback"), ("[::1]", "loopback address (::1)"), ("[0:0:0:0:0:0:0:1]", "loopback address (::1)"),
    ("localhost", "loopback"), ("LOCALHOST.", "loopback"), ("api.localhost", "loopback"), ("ｌｏｃａｌｈｏｓｔ", "loopback"),
    ("10.0.0.1", "private address (RFC 1918)"), ("172.16.5.4", "RFC 1918"), ("192.168.1.1", "RFC 1918"),
    ("0xa000001", "RFC 1918"), ("100.64.0.1", "CGNAT"), ("169.254.169.254", "link-local"),
    ("0xa9fea9fe", "link-local"), ("[fe80::1]", "link-local address (fe80::/10)"), ("[fe80::1%25eth0]", "link-local"),
    ("[fc00::1]", "unique-local"), ("[fd12:3456::1]", "unique-local"), ("0.0.0.0", "unspecified"), ("0", "unspecified"),
    ("[::]", "unspecified"), ("224.0.0.1", "multicast"), ("[ff02::1]", "multicast"), ("255.255.255.255", "broadcast"),
    ("240.0.0.1", "reserved"), ("192.0.2.1", "documentation"), ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"), ("[2001:db8::1]", "documentation"), ("198.18.0.1", "benchmarking"),
    ("[2001:2::1]", "benchmarking"), ("192.0.0.8", "IETF protocol"), ("[::ffff:127.0.0.1]", "IPv4-mapped"),
    ("[::ffff:8.8.8.8]", "IPv4-mapped"), ("[::127.0.0.1]", "IPv4-compatible"), ("[64:ff9b::a00:1]", "NAT64"),
    ("[64:ff9b:1::1]", "NAT64"), ("[2002:a00:1::1]", "6to4 address embedding a private address"),
    ("[2002:7f00:1::]", "6to4 address embedding a loopback"), ("[2001::1]", "Teredo"), ("[100::1]", "discard-only"),
    ("[fec0::1]", "site-local"), ("[4000::1]", "outside 2000::/3"), ("[3fff::1]", "documentation"),
]
ALLOWED_LITERALS = ["8.8.8.8", "1.1.1.1", "[2606:4700:4700::1111]", "[2002:808:808::1]", "example.com",
                    "hooks.example.com.", "256.1.1.1", "1.2.3.4.5"]


@pytest.mark.parametrize("host, rule", REFUSED_LITERALS)
def test_a_refused_address_is_refused_in_every_spelling_naming_its_rule(host, rule):
    with pytest.raises(DestinationNotAllowed) as refused:
        DestinationPolicy(resolver=FakeResolver()).check_host(host, "Field 'url'")
    assert refused.value.message.startswith("Field 'url' points to ") and rule in refused.value.message
    assert refused.value.message.endswith(", which is not allowed.")


@pytest.mark.parametrize("host", ALLOWED_LITERALS)
def test_global_addresses_and_names_pass_the_check_of_the_url(host):
    resolver = FakeResolver()
    DestinationPolicy(resolver=resolver).check_host(host)
    assert resolver.asked == [], "setting a URL never looks a name up (it is checked at each connect)"


def test_spellings_mean_the_address_inet_aton_reads():
    assert {str(literal_address(h)) for h in ("2130706433", "0177.0.0.1", "0x7f.1", "127.1", "127.0.0.1.")} \
        == {"127.0.0.1"}
    assert str(literal_address("1.0x10.0300")) == "1.16.0.192"
    assert literal_address("example.com") is None and literal_address("08.1.1.1") is None


@pytest.mark.parametrize("resolved, rule", [(["10.1.2.3"], "a private address (RFC 1918)"),
                                            (["169.254.169.254"], "link-local"),
                                            (["93.184.216.34", "127.0.0.1"], "loopback"),
                                            (["::ffff:10.0.0.1"], "IPv4-mapped"), (["fe80::1%eth0"], "link-local")])
def test_a_name_resolving_inward_is_refused_without_naming_the_address(resolved, rule):
    policy = DestinationPolicy(resolver=FakeResolver(*resolved))
    with pytest.raises(DestinationNotAllowed) as refused:
        policy.addresses("hooks.example.com", 443, "The webhook's host")
    message = refused.value.message
    assert message.startswith("The webhook's host resolves to ") and rule in message
    assert not any(address.split("%")[0] in message for address in resolved)


def test_every_resolved_address_is_returned_when_all_pass():
    resolver = FakeResolver("93.184.216.34", "2606:2800:220:1::1", "93.184.216.34")
    found = DestinationPolicy(resolver=resolver).addresses("Hooks.Example.com", 443)
    assert found == ["93.184.216.34", "2606:2800:220:1::1"] and resolver.asked == ["hooks.example.com"]


def test_a_literal_host_is_dialled_as_the_address_it_spells_without_a_lookup():
    resolver = FakeResolver("8.8.8.8")
    policy = DestinationPolicy(allowed_networks("127.0.0.0/8"), resolver=resolver)
    assert policy.addresses("0x7f.1", 80) == ["127.0.0.1"] and resolver.asked == []
    with pytest.raises(DestinationNotAllowed, match="The host is a private address"):
        policy.addresses("012.0.0.1", 80)


def test_a_trusted_destination_is_resolved_but_not_checked():
    policy = DestinationPolicy(resolver=FakeResolver("10.0.0.7"))
    assert policy.addresses("internal.example", 80, check=False) == ["10.0.0.7"]


def test_allowed_networks_open_exactly_their_ranges():
    policy = DestinationPolicy(allowed_networks("127.0.0.0/8, fd00::/8"))
    assert policy.rule_for(ip_address("127.5.5.5")) is None and policy.rule_for(ip_address("fd00::5")) is None
    assert "loopback" in policy.rule_for(ip_address("::1"))
    assert "RFC 1918" in policy.rule_for(ip_address("10.0.0.1"))
    assert allowed_networks(" ") == ()
    with pytest.raises(ValueError, match="'10.0.0.0/33' is not a network"):
        allowed_networks("127.0.0.0/8,10.0.0.0/33")


@pytest.mark.parametrize("url, sent", [
    ("HTTPS://Hooks.Example.COM/in?t=1", "https://hooks.example.com/in?t=1"),
    ("http://bücher.example/päth?q=ü", "http://xn--bcher-kva.example/p%C3%A4th?q=%C3%BC"),
    ("http://h.example/a\x7fb%zz", "http://h.example/a%7Fb%zz"),
    ("http://u:p%40ss@h.example:0080/x", "http://u:p%40ss@h.example:80/x"),
    ("http://[::1]:8080/a", "http://[::1]:8080/a"),
])
def test_a_url_is_sent_in_its_ascii_form(url, sent):
    assert sendable_url(url) == sent


@pytest.mark.parametrize("url, reason", [("http://" + "a" * 64 + ".example/", "longer than 63"),
                                         ("http://a..b.example/", "empty"),
                                         ("http://" + "abcdefgh." * 29 + "example/", "longer than 253"),
                                         ("http://h.example/\ud800", "no UTF-8 form"),
                                         ("http://h\x7f.example/", "a control character")])
def test_a_url_with_no_sendable_form_is_refused_saying_why(url, reason):
    with pytest.raises(UnsendableUrl, match=reason):
        sendable_url(url)


@pytest.mark.parametrize("url, shown", [("https://user:s3cret@h.example/p", "https://user:****@h.example/p"),
                                        ("https://:s3cret@h.example/", "https://:****@h.example/"),
                                        ("https://u:a:b@c@h.example/", "https://u:****@h.example/"),
                                        ("https://user@h.example/", "https://user@h.example/"),
                                        ("https://h.example/p?pw=1", "https://h.example/p?pw=1")])
def test_a_password_in_a_url_is_masked(url, shown):
    assert masked_url(url) == shown


def test_an_ipv6_literal_is_dialled_as_written_without_a_lookup():
    resolver = FakeResolver("8.8.8.8")
    policy = DestinationPolicy(allowed_networks("::1, fe80::/10"), resolver=resolver)
    assert policy.addresses("[::1]", 80) == ["::1"]
    assert policy.addresses("[fe80::1%25eth0]", 80) == ["fe80::1%eth0"] and resolver.asked == []
