"""The user's OpenSSH client config (~/.ssh/config, or -F FILE), applied to the inventory before any connection.

What the inventory says wins; what it leaves out comes from the config, as
``ssh HOST`` would take it: ``HostName``, ``User``, ``Port``,
``IdentityFile``, ``ProxyJump`` (chains, and ``none``) and
``StrictHostKeyChecking`` (clusterctl's own is accept-new; only a stricter
``yes`` from the config changes it). Reading the config is local: no host is
contacted.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..inventory import Host, Inventory, Jump

if TYPE_CHECKING:
    import paramiko

DEFAULT_PATH = Path("~/.ssh/config")


def load(path: Path | None) -> paramiko.SSHConfig | None:
    """The config at ``path`` (a UsageError if it is missing), else ~/.ssh/config if there is one."""
    if path is not None:
        if not path.is_file():
            raise UsageError(f"-F {path}: no such SSH config file")
        chosen = path
    else:
        chosen = DEFAULT_PATH.expanduser()
        if not chosen.is_file():
            return None
    import paramiko  # only once a config is there to read: paramiko is most of a command's start-up
    try:
        return paramiko.SSHConfig.from_path(str(chosen))
    except (OSError, UnicodeDecodeError, paramiko.ssh_exception.ConfigParseError) as exc:
        raise UsageError(f"{chosen}: cannot read this SSH config: {exc}") from None


def parse_jump(value: str, default_user: str) -> tuple[Jump, ...]:
    """OpenSSH's ProxyJump value: ``[user@]host[:port]``, comma-separated; ``none`` for none (pure)."""
    if value.strip().lower() == "none":
        return ()
    hops = []
    for part in value.split(","):
        user, _, rest = part.strip().rpartition("@")
        host, _, port = rest.partition(":") if rest.count(":") == 1 else (rest, "", "")
        hops.append(Jump(host.strip("[]"), user or default_user, int(port) if port.isdigit() else 22))
    return tuple(hops)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def apply_to_host(host: Host, entry: dict) -> Host:
    """``host`` with what ``entry`` (the config's answer for it) says of what the inventory left out (pure)."""
    changes: dict = {}
    hostname = entry.get("hostname")
    if hostname and hostname != host.address:
        changes["address"] = hostname
        if host.static_address == host.address and not _is_ip(host.address) and _is_ip(hostname):
            changes["static_address"] = hostname  # the alias was all the inventory had: /etc/hosts needs the IP
    if "user" not in host.given and entry.get("user"):
        changes["user"] = entry["user"]
        if "become" not in host.given:
            changes["become"] = "none" if entry["user"] == "root" else "sudo"
    if "port" not in host.given and str(entry.get("port", "")).isdigit():
        changes["port"] = int(entry["port"])
    if "identity" not in host.given and entry.get("identityfile"):
        existing = [Path(os.path.expanduser(p)) for p in entry["identityfile"]]
        found = next((p for p in existing if p.is_file()), None)
        if found is not None:
            changes["identity"] = found
    if not host.jump_given and entry.get("proxyjump"):
        changes["jump"] = parse_jump(entry["proxyjump"], changes.get("user", host.user))
    if str(entry.get("stricthostkeychecking", "")).lower() == "yes":
        changes["strict_host_keys"] = True
    return replace(host, **changes) if changes else host


def apply(inventory: Inventory, config: paramiko.SSHConfig | None) -> Inventory:
    """The inventory with the SSH config applied to every host (unchanged without a config)."""
    if config is None:
        return inventory
    hosts = {name: apply_to_host(host, config.lookup(host.address)) for name, host in inventory.hosts.items()}
    return replace(inventory, hosts=hosts)
