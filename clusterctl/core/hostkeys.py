"""Host-key policy: OpenSSH's ``StrictHostKeyChecking=accept-new``.

Fabric's Connection installs paramiko's AutoAddPolicy and never reads or
writes known_hosts, so clusterctl pins keys itself: a host never seen is
accepted and appended to known_hosts; a host whose key changed is refused with
both fingerprints. Lookups go through paramiko's HostKeys, which understands
hashed entries (``HashKnownHosts yes``) the way ``ssh-keygen -F`` does.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from pathlib import Path

import paramiko

from ..errors import HostKeyMismatch


def fingerprint(key: paramiko.PKey) -> str:
    """The SHA256 fingerprint in OpenSSH's notation."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(address: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts: bare on port 22, else [addr]:port."""
    return address if port == 22 else f"[{address}]:{port}"


class KnownHosts:
    """A known_hosts file shared by all connections of a run (thread-safe)."""

    def __init__(self, path: Path, remember: bool = True):
        self.path = Path(path)
        self.remember = remember  # False for a dry run: new keys are pinned for this run alone, never written
        self._lock = threading.Lock()
        self._keys = paramiko.HostKeys()
        if self.path.exists():
            self._keys.load(str(self.path))

    def lookup(self, name: str) -> dict[str, paramiko.PKey]:
        return dict(self._keys.lookup(name) or {})

    def pin(self, name: str, key: paramiko.PKey) -> None:
        """Append one entry, as ssh does on first contact (never rewriting the file)."""
        with self._lock:
            if self._keys.check(name, key):
                return
            self._keys.add(name, key.get_name(), key)
            if not self.remember:
                return
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as out:
                out.write(f"{name} {key.get_name()} {key.get_base64()}\n")


class UnknownHostKey(paramiko.SSHException):
    """StrictHostKeyChecking yes: a host whose key is not pinned yet is refused."""


class AcceptNewPolicy(paramiko.MissingHostKeyPolicy):
    """Pins unseen hosts; paramiko itself raises BadHostKeyException on a change."""

    def __init__(self, known_hosts: KnownHosts):
        self.known_hosts = known_hosts

    def missing_host_key(self, client, hostname, key):
        self.known_hosts.pin(hostname, key)


class StrictPolicy(paramiko.MissingHostKeyPolicy):
    """Refuses unseen hosts (the SSH config says StrictHostKeyChecking yes)."""

    def __init__(self, known_hosts: KnownHosts):
        self.known_hosts = known_hosts

    def missing_host_key(self, client, hostname, key):
        raise UnknownHostKey(f"{hostname} is not in {self.known_hosts.path} and StrictHostKeyChecking is yes: "
                             f"its key {fingerprint(key)} was refused; add it (ssh-keyscan) if it is right")


def prepare_client(client: paramiko.SSHClient, known_hosts: KnownHosts, name: str, *, strict: bool = False) -> None:
    """Make ``client`` check ``name`` against the run's known_hosts before connecting.

    Only this host's pinned keys are loaded into the client, so paramiko sees a
    mismatch (and raises) or a miss (and calls the policy: pin it, or with
    ``strict`` refuse it).
    """
    for key_type, key in known_hosts.lookup(name).items():
        client.get_host_keys().add(name, key_type, key)
    client.set_missing_host_key_policy(StrictPolicy(known_hosts) if strict else AcceptNewPolicy(known_hosts))


def mismatch_error(host: str, address: str, exc: paramiko.BadHostKeyException,
                   known_hosts: KnownHosts) -> HostKeyMismatch:
    return HostKeyMismatch(host, address, fingerprint(exc.expected_key), fingerprint(exc.key),
                           str(known_hosts.path))
