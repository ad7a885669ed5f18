"""Merge rules for authorized_keys and known_hosts."""

from __future__ import annotations

from .managed_block import replace_block

KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
             "ssh-dss")


def key_identity(line: str) -> tuple[str, str] | None:
    """(type, base64 blob) of an authorized_keys or .pub line, ignoring options and comment."""
    fields = line.split()
    for i, field in enumerate(fields[:-1]):
        if field in KEY_TYPES:
            return field, fields[i + 1]
    return None


def authorized_keys_merge(current: str, public_keys: list[str]) -> str:
    """``current`` with every key of ``public_keys`` it lacks appended, once.

    Existing lines (options, comments, other keys) are kept as they are; a key
    counts as present whatever options or comment its line has.
    """
    present = {key_identity(line) for line in current.splitlines()} - {None}
    added = []
    for key in public_keys:
        ident = key_identity(key)
        if ident is None or ident in present:
            continue
        present.add(ident)
        added.append(key.strip())
    if not added:
        return current
    head = current if not current or current.endswith("\n") else current + "\n"
    return head + "".join(line + "\n" for line in added)


def known_hosts_block(peers: dict[str, tuple[str, list[str]]]) -> str:
    """known_hosts lines for peers: name → (address, host public keys), under name and address."""
    lines = []
    for name, (address, keys) in peers.items():
        names = name if name == address else f"{name},{address}"
        for key in keys:
            ident = key_identity(key)
            if ident:
                lines.append(f"{names} {ident[0]} {ident[1]}\n")
    return "".join(lines)


def render_known_hosts(current: str, cluster: str, peers: dict[str, tuple[str, list[str]]]) -> str:
    """``current`` known_hosts with the cluster's block of peer keys set; other entries kept.

    OpenSSH accepts a host when any entry for it matches, so an outdated entry
    elsewhere in the file does not stop the block from working.
    """
    return replace_block(current, f"peers {cluster}", known_hosts_block(peers))
