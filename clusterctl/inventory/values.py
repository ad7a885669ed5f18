"""Values on their own: addresses, host names, and the files a key names (a private key, a package)."""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from pathlib import Path

from ..package_files import PackageFileError, read_deb_identity, read_rpm_identity, tarball_top_dir
from .one_line import one_line, printable

# Every pattern is used with fullmatch, so a trailing newline never slips past
# a `$`; classes are spelled in ASCII because \d and re.IGNORECASE match other
# scripts' digits and letters (the Kelvin sign matches [a-z] ignoring case).
_HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"  # lookarounds, not backtracking: this runs once per host
HOSTNAME = re.compile(_HOST_LABEL)
_DNS_NAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*")
# inet_aton, which ssh resolves names with, reads a numeric last label (10.1, 0x7f000001) as an address.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[Xx][0-9A-Fa-f]*")
_OCTETS = frozenset(str(n) for n in range(256))  # spelled without leading zeros, as ipaddress wants them

_PACKAGE_READERS = {"rpm": read_rpm_identity, "deb": read_deb_identity, "tarball": tarball_top_dir}
_PRIVATE_KEY_HEADERS = (b"-----BEGIN OPENSSH PRIVATE KEY-----", b"-----BEGIN RSA PRIVATE KEY-----",
                        b"-----BEGIN EC PRIVATE KEY-----", b"-----BEGIN PRIVATE KEY-----",
                        b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
_PUBLIC_KEY_STARTS = (b"ssh-", b"ecdsa-sha2-", b"sk-ssh-", b"sk-ecdsa-", b"---- BEGIN SSH2 PUBLIC KEY")


def canonical_ip(text: str) -> str | None:
    """``text`` as the canonical spelling of an IPv4 or IPv6 address, or None if it is none.

    Zone ids (fe80::1%eth0) are refused: they are not addresses a host can be configured with.
    """
    octets = text.split(".")
    if len(octets) == 4 and _OCTETS.issuperset(octets):
        return text  # four octets without leading zeros: already canonical
    if ":" not in text or "%" in text:
        return None
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        return None


def is_host_name(text: str) -> bool:
    return (len(text) <= 253 and bool(_DNS_NAME.fullmatch(text))
            and not _NUMERIC_LABEL.fullmatch(text.rsplit(".", 1)[-1]))


def file_kind(path: Path) -> str:
    """What ``path`` is, as an error says it: "a file", "missing", "a directory", ..."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except OSError as exc:  # a name too long, a symlink loop, a directory on the way we may not enter
        return f"unreachable ({exc.strerror})"
    if stat.S_ISREG(mode):
        return "a file"
    return "a directory" if stat.S_ISDIR(mode) else "not a regular file"


def private_key_problem(path: Path) -> tuple[str, str] | None:
    """Why ``path`` cannot be the controller's SSH private key, with the fix; None if it can."""
    kind = file_kind(path)
    if kind == "missing":
        return (f"identity file {path} is missing or unreadable",
                "point it at a private key, or remove the key to use ssh-agent / ssh_config")
    if kind != "a file":
        return f"identity {path} is {kind}", "point it at a private key file such as ~/.ssh/id_ed25519"
    try:
        with open(path, "rb") as fh:
            head = fh.read(64).lstrip()
    except OSError as exc:
        return (f"identity file {path} is missing or unreadable ({exc.strerror})",
                "point it at a private key, or remove the key to use ssh-agent / ssh_config")
    if head.startswith(b"-----BEGIN DSA PRIVATE KEY-----"):
        return (f"identity {path} is a DSA key, which OpenSSH disables since 7.0 and paramiko 4+ cannot load",
                "point it at an ed25519 or RSA private key")
    if head.startswith(_PRIVATE_KEY_HEADERS):
        return None
    if head.startswith(_PUBLIC_KEY_STARTS):
        return (f"identity {path} is a public key", f"point it at the private key {path.with_suffix('')}"
                if path.suffix == ".pub" else "point it at the private key, not the public one")
    if head.startswith(b"PuTTY-User-Key-File-"):
        return f"identity {path} is a PuTTY key", "convert it with 'puttygen KEY -O private-openssh -o KEY.openssh'"
    return (f"identity {path} is not an SSH private key (no OpenSSH or PEM private key header)",
            "point it at a private key such as ~/.ssh/id_ed25519")


def package_problem(path: Path, kind: str) -> tuple[str, str] | None:
    """Why the package file ``path`` cannot be read as a ``kind`` (rpm, deb, tarball), with the fix; None if it can.

    Both are one printable line.
    """
    found = file_kind(path)
    if found == "missing" or found == "a file" and not os.access(path, os.R_OK):
        return (printable(f"{path} does not exist or is unreadable"),
                "build it with 'clusterctl artifacts' or point the key at your package")
    if found != "a file":
        return printable(f"{path} is {found}"), "point the key at the package file"
    try:
        _PACKAGE_READERS[kind](path)
    except PackageFileError as exc:
        return printable(one_line(exc, 300)), "download or build the package again ('clusterctl artifacts')"
    return None

