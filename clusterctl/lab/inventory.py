"""The inventory a lab hands to clusterctl: its nodes in the project's inventory format."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from .lab_user import LabUser, SudoRights

PASSWORD_ENV = "CLUSTERCTL_SSH_PASSWORD"
BECOME_PASSWORD_ENV = "CLUSTERCTL_BECOME_PASSWORD"


def _toml_string(value: object) -> str:
    # A JSON string is a valid TOML basic string: same quotes, same escapes.
    return json.dumps(str(value), ensure_ascii=False)


def render_lab_inventory(name: str, addresses: Mapping[str, str], identity: Path, known_hosts: Path,
                         password_file: Path, lab_key_authorized: bool = True, extra: str = "", *,
                         user: LabUser | None = None, user_password_file: Path | None = None,
                         jump: str | None = None) -> str:
    """The inventory TOML for lab ``name`` whose nodes are ``addresses`` (node -> address, in order).

    Every node is in [ssh_trust]; ``extra`` (say [jdk] and [zookeeper]
    sections) is appended verbatim after a blank line. clusterctl logs in as
    root, or as ``user`` (whose password is in ``user_password_file``), and
    through ``jump`` (USER@ADDRESS of the bastion) if given. Passwords are
    never written, only where to find them.
    """
    header = [f"# Written by 'clusterctl lab up' for lab {_toml_string(name)}."]
    if user is None:
        header += [f"# Root's lab password is in {password_file}; to log in with it:",
                   f"#   export {PASSWORD_ENV}=\"$(cat {password_file})\""]
    else:
        header += _login_user_comments(user, user_password_file, password_file)
    if not lab_key_authorized:
        header.append("# The identity below is not yet authorized on the nodes: the first contact needs "
                      "the password.")
    if jump is not None:
        header.append(f"# The nodes let SSH in only through the bastion, {jump.partition('@')[2]} (jump below).")
    lines = header + [
        "",
        "[cluster]",
        f"name = {_toml_string(name)}",
        f"user = {_toml_string(user.name if user else 'root')}",
        "port = 22",
        f"identity = {_toml_string(identity)}",
        f"known_hosts = {_toml_string(known_hosts)}",
    ]
    if jump is not None:
        lines.append(f"jump = {_toml_string(jump)}")
    lines.append("")
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


def _login_user_comments(user: LabUser, user_password_file: Path, password_file: Path) -> list[str]:
    """What the header says of a lab's login user: its password, how sudo takes it, root's lot."""
    comments = [f"# {user.name}'s lab password is in {user_password_file}; to log in with it:",
                f"#   export {PASSWORD_ENV}=\"$(cat {user_password_file})\""]
    if user.sudo is SudoRights.SUDO:
        comments += [f"# sudo asks {user.name} for that same password; to give it:",
                     f"#   export {BECOME_PASSWORD_ENV}=\"$(cat {user_password_file})\""]
    elif user.sudo is SudoRights.NOPASSWD:
        comments.append(f"# sudo lets {user.name} run anything as root without a password.")
    else:
        comments.append(f"# {user.name} may not use sudo: what clusterctl does as root is refused.")
    comments.append(f"# Root logs in over SSH on no node; its password (for su) is in {password_file}.")
    return comments
