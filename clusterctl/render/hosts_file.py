"""The /etc/hosts block that maps every inventory host name to its address."""

from __future__ import annotations

from .managed_block import extract_block, replace_block


def hosts_block(addresses: dict[str, str]) -> str:
    """One ``address name`` line per host, in inventory order."""
    return "".join(f"{address} {name}\n" for name, address in addresses.items())


def render_hosts_file(current: str, cluster: str, addresses: dict[str, str]) -> str:
    """``current`` /etc/hosts with the cluster's block set; other lines untouched.

    The block goes first so that its names win over a distribution's
    ``127.0.1.1 hostname`` line: a ZooKeeper server that resolves its own name
    to loopback would bind its quorum port where no peer can reach it.
    """
    return replace_block(current, f"hosts {cluster}", hosts_block(addresses), at_top=True)


def parse_hosts_block(text: str, cluster: str) -> dict[str, str]:
    """name → address, as the cluster's block in ``text`` (an /etc/hosts) maps them."""
    names = {}
    for line in (extract_block(text, f"hosts {cluster}") or "").splitlines():
        fields = line.split()
        for name in fields[1:]:
            names.setdefault(name, fields[0])
    return names
