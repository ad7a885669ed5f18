"""Static address configuration in each OS's own format (the runbook's ifcfg-eth0)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .key_values import parse_key_values

BACKENDS = ("ifcfg", "nmconnection", "netplan", "networkd")


@dataclass(frozen=True)
class StaticAddress:
    interface: str
    address: str
    prefix: int
    gateway: str | None = None
    dns: tuple[str, ...] = ()

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.prefix}"

    @property
    def netmask(self) -> str:
        return str(ipaddress.ip_network(self.cidr, strict=False).netmask)


def config_path(backend: str, interface: str) -> str:
    """Where ``backend`` keeps the config of ``interface``."""
    return {
        "ifcfg": f"/etc/sysconfig/network-scripts/ifcfg-{interface}",
        "nmconnection": f"/etc/NetworkManager/system-connections/clusterctl-{interface}.nmconnection",
        "netplan": f"/etc/netplan/60-clusterctl-{interface}.yaml",
        "networkd": f"/etc/systemd/network/60-clusterctl-{interface}.network",
    }[backend]


def render_network_config(backend: str, net: StaticAddress) -> str:
    """The file content that gives ``net.interface`` its static address under ``backend``."""
    return {"ifcfg": _ifcfg, "nmconnection": _nmconnection, "netplan": _netplan, "networkd": _networkd}[backend](net)


_HEADER = "# Managed by clusterctl (clusterctl net apply); local edits are replaced.\n"


def _ifcfg(net: StaticAddress) -> str:
    lines = [f"DEVICE={net.interface}", "TYPE=Ethernet", "ONBOOT=yes", "BOOTPROTO=static",
             f"IPADDR={net.address}", f"PREFIX={net.prefix}", f"NETMASK={net.netmask}"]
    if net.gateway:
        lines.append(f"GATEWAY={net.gateway}")
    lines += [f"DNS{i}={server}" for i, server in enumerate(net.dns, 1)]
    return _HEADER + "\n".join(lines) + "\n"


def _nmconnection(net: StaticAddress) -> str:
    ipv4 = [f"address1={net.cidr}" + (f",{net.gateway}" if net.gateway else ""), "method=manual"]
    if net.dns:
        ipv4.append("dns=" + ";".join(net.dns) + ";")
    return (_HEADER + f"[connection]\nid=clusterctl-{net.interface}\ntype=ethernet\n"
            f"interface-name={net.interface}\nautoconnect=true\n\n[ipv4]\n" + "\n".join(ipv4)
            + "\n\n[ipv6]\nmethod=ignore\n")


def _netplan(net: StaticAddress) -> str:
    out = [_HEADER.rstrip("\n"), "network:", "  version: 2", "  ethernets:", f"    {net.interface}:",
           "      dhcp4: false", f"      addresses: [{net.cidr}]"]
    if net.gateway:
        out += ["      routes:", "        - to: default", f"          via: {net.gateway}"]
    if net.dns:
        out += ["      nameservers:", f"        addresses: [{', '.join(net.dns)}]"]
    return "\n".join(out) + "\n"


def _networkd(net: StaticAddress) -> str:
    out = [_HEADER.rstrip("\n"), "[Match]", f"Name={net.interface}", "", "[Network]", f"Address={net.cidr}"]
    if net.gateway:
        out.append(f"Gateway={net.gateway}")
    out += [f"DNS={server}" for server in net.dns]
    return "\n".join(out) + "\n"


def parse_ifcfg(text: str) -> dict[str, str]:
    """KEY=value pairs of an ifcfg file (quotes removed, comments skipped)."""
    return {key: value.strip('"\'') for key, value in parse_key_values(text).items()}
