"""Which URLs perfapi sends events to: public http(s) targets only, unless allowed."""

import pytest

from perfapi.webhook_endpoints.targets import Resolver, TargetRefusedError, check_target


def resolving_to(*addresses: str) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        if not addresses:
            raise OSError("no such host")
        return list(addresses)

    return resolve


async def test_a_public_https_target_is_approved_with_its_addresses() -> None:
    target = await check_target(
        "https://hooks.example.com/perfapi?team=1",
        allow_private=False,
        resolve=resolving_to(
            "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "93.184.216.34"
        ),
    )
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 443)
    assert [str(a) for a in target.addresses] == [
        "93.184.216.34",
        "2606:2800:220:1:248:1893:25c8:1946",
    ]
    plain = await check_target(
        "http://93.184.216.34:8080/x", allow_private=False, resolve=resolving_to()
    )
    assert plain.port == 8080


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "metadata"),
        ("100.64.0.1", "shared"),
        ("0.0.0.0", "private"),  # noqa: S104 (an address to refuse, not one to bind)
        ("::ffff:127.0.0.1", "loopback"),
        ("224.0.0.1", "multicast"),
    ],
)
async def test_an_address_only_the_server_can_reach_is_refused(address: str, reason: str) -> None:
    with pytest.raises(TargetRefusedError, match=reason):
        await check_target(
            "https://innocent.example.com/", allow_private=False, resolve=resolving_to(address)
        )
    # One such address among public ones is enough to refuse the name.
    with pytest.raises(TargetRefusedError):
        await check_target(
            "https://innocent.example.com/",
            allow_private=False,
            resolve=resolving_to("93.184.216.34", address),
        )
    allowed = await check_target(
        "https://innocent.example.com/", allow_private=True, resolve=resolving_to(address)
    )
    assert len(allowed.addresses) == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://example.com/", "http or https"),
        ("example.com/hook", "http or https"),
        ("https://user:secret@example.com/", "credentials"),
        ("https:///path-only", "no host"),
        ("https://example.com:0/", "port"),
        ("https://example.com:99999/", "port"),
        ("https://example.com:http/", "port"),
        ("http://127.0.0.1:8000/", "loopback"),
        ("http://[::1]/", "loopback"),
    ],
)
async def test_other_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(TargetRefusedError, match=reason):
        await check_target(url, allow_private=False, resolve=resolving_to("93.184.216.34"))


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(TargetRefusedError, match="does not resolve"):
        await check_target("https://nowhere.invalid/", allow_private=True, resolve=resolving_to())


async def test_the_system_resolver_reads_localhost_without_the_network() -> None:
    with pytest.raises(TargetRefusedError, match="loopback"):
        await check_target("http://localhost:9/", allow_private=False)
    allowed = await check_target("http://localhost:9/", allow_private=True)
    assert all(address.is_loopback for address in allowed.addresses)
