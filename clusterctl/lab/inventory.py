"""The inventory a lab hands to clusterctl: its nodes in the project's inventory format."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

PASSWORD_ENV = "CLUSTERCTL_SSH_PASSWORD"


def _toml_string(value: object) -> str:
    # A JSON string is a valid TOML basic string: same quotes, same escapes.
    return json.dumps(str(value), ensure_ascii=False)


def render_lab_inventory(name: str, addresses: Mapping[str, str], identity: Path, known_hosts: Path,
                         password_file: Path, lab_key_authorized: bool = True, extra: str = "") -> str:
    """The inventory TOML for lab ``name`` whose nodes are ``addresses`` (node -> address, in order).

    Every node is in [ssh_trust]; ``extra`` (say [jdk] and [zookeeper]
    sections) is appended verbatim after a blank line. The password itself is
    never written, only where to find it.
    """
    header = [
        f"# Written by 'clusterctl lab up' for lab {_toml_string(name)}.",
        f"# Root's lab password is in {password_file}; to log in with it:",
        f"#   export {PASSWORD_ENV}=\"$(cat {password_file})\"",
    ]
    if not lab_key_authorized:
        header.append("# The identity below is not yet authorized on the nodes: the first contact needs "
                      "the password.")
    lines = header + [
        "",
        "[cluster]",
        f"name = {_toml_string(name)}",
        'user = "root"',
        "port = 22",
        f"identity = {_toml_string(identity)}",
        f"known_hosts = {_toml_string(known_hosts)}",
        "",
    ]
    for node, address in addresses.items():
        lines += [f"[hosts.{node}]", f"address = {_toml_string(address)}"]
    lines += [
        "",
        "[ssh_trust]",
        'key_type = "ed25519"',
        "hosts = [" + ", ".join(_toml_string(node) for node in addresses) + "]",
    ]
    text = "\n".join(lines) + "\n"
    return text + "\n" + extra if extra else text
