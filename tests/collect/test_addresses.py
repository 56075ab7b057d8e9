"""The address policy: what a source may connect to, and how comms.toml says so."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import pytest

from comms.collect.addresses import AddressPolicy, ForbiddenAddress, GuardedBackend, IPAddress, kind_of
from comms.config import ItemKind, SourceConfig, load_config

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("172.31.255.255", "a private address"),
        ("192.168.0.1", "a private address"),
        ("fc00::1", "a private (unique-local) address"),
        ("fd12:3456::1", "a private (unique-local) address"),
        ("169.254.0.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("100.64.0.1", "a shared (carrier-grade NAT) address"),
        ("100.127.255.254", "a shared (carrier-grade NAT) address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("192.0.2.10", "a private address"),  # documentation range: not a real host
        ("::ffff:169.254.169.254", "a cloud metadata address (as IPv6)"),
        ("::ffff:192.168.1.1", "a private address (as IPv6)"),
        ("::ffff:93.184.216.34", None),
        ("2002:a00:1::", "a private address (as IPv6)"),  # 6to4 around 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "a cloud metadata address (as IPv6)"),  # NAT64 around 169.254.169.254
    ],
)
def test_kind_of_address(address: str, kind: str | None) -> None:
    assert kind_of(ipaddress.ip_address(address)) == kind


def source(allow: bool | tuple[str, ...]) -> SourceConfig:
    return SourceConfig(
        "intranet",
        "Intranet",
        "http://intranet.example/",
        "feed",
        ItemKind.NEWS,
        allow_private_addresses=allow,
    )


@pytest.mark.parametrize(
    ("allow", "address", "allowed"),
    [
        (False, "93.184.216.34", True),
        (False, "10.1.2.3", False),
        (True, "10.1.2.3", True),
        (True, "169.254.169.254", True),
        (("10.20.0.0/16",), "10.20.5.5", True),
        (("10.20.0.0/16",), "10.21.5.5", False),
        (("10.20.0.0/16",), "169.254.169.254", False),
        (("127.0.0.1/32",), "127.0.0.2", False),
        (("fd00::/8",), "fd12::1", True),
        (("fd00::/8",), "10.0.0.1", False),
    ],
)
def test_a_source_allows_what_it_names(allow: bool | tuple[str, ...], address: str, allowed: bool) -> None:
    refusal = AddressPolicy.of(source(allow)).refusal("intranet.example", ipaddress.ip_address(address))

    assert (refusal is None) is allowed
    if refusal:
        assert refusal.startswith(f"intranet.example resolves to {address}, ")
        assert refusal.endswith("not fetched (allow_private_addresses on the source allows it)")


def test_every_address_a_name_resolves_to_is_checked() -> None:
    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.7")]

    backend = GuardedBackend(AddressPolicy(), resolver=resolver)

    with pytest.raises(ForbiddenAddress, match=r"feeds\.example resolves to 10\.0\.0\.7, a private address"):
        asyncio.run(backend.connect_tcp("feeds.example", 80))


@pytest.mark.parametrize(
    ("setting", "expected", "problem"),
    [
        ("", False, None),
        ("allow_private_addresses = true", True, None),
        ('allow_private_addresses = ["10.20.0.0/16", "fd00::1"]', ("10.20.0.0/16", "fd00::1/128"), None),
        ('allow_private_addresses = "ja"', False, "allow_private_addresses must be true or false or a list"),
        ('allow_private_addresses = ["intranet"]', (), "'intranet' is not a network"),
    ],
)
def test_allow_private_addresses_in_comms_toml(
    tmp_path: Path, setting: str, expected: bool | tuple[str, ...], problem: str | None
) -> None:
    text = (REPO / "comms.toml").read_text(encoding="utf-8")
    text += f'\n[[sources]]\nname = "intranet"\nurl = "http://intranet.example/feed"\n{setting}\n'
    (tmp_path / "comms.toml").write_text(text, encoding="utf-8")

    config, problems = load_config(tmp_path / "comms.toml")

    if problem is None:
        assert config is not None, problems
        assert config.sources[-1].allow_private_addresses == expected
    else:
        assert config is None
        assert any(problem in str(p) and "source intranet" in str(p) for p in problems), problems


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("[collect]\ndeadline_seconds = 5\nmax_concurrent_fetches = 2", None),
        ("[collect]\ndeadline_seconds = 0", "[collect] deadline_seconds must be more than 0"),
        ("[collect]\nmax_concurrent_fetches = 0", "[collect] max_concurrent_fetches must be 1 or more"),
        ('[collect]\ndeadline_seconds = "lang"', "[collect] deadline_seconds must be a number"),
    ],
)
def test_collect_settings_in_comms_toml(tmp_path: Path, table: str, problem: str | None) -> None:
    text = (REPO / "comms.toml").read_text(encoding="utf-8") + f"\n{table}\n"
    (tmp_path / "comms.toml").write_text(text, encoding="utf-8")

    config, problems = load_config(tmp_path / "comms.toml")

    if problem is None:
        assert config is not None, problems
        assert (config.collect.deadline_seconds, config.collect.max_concurrent_fetches) == (5, 2)
    else:
        assert any(problem in str(p) for p in problems), problems
