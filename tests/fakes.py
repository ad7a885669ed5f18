"""Test doubles for the execution core: fake hosts that serve facts and record what steps run.

:class:`FakeRemote` stands where SSH would: a step driven through a
:class:`Session` built by :func:`fake_session` asks facts (served from the
case's data) and runs remote scripts (recorded, answered with canned
results), so a step's decide/apply is tested as data: facts in, scripts and
files out. :func:`run_locally` runs one of the package's remote scripts on
this machine, the way a host runs it (``bash -s -- ARGS`` with the script on
stdin), to test the script itself against real files.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import socket
import subprocess
from dataclasses import dataclass, field
from typing import Callable, Iterable

from clusterctl import remote
from clusterctl.core.channel import CommandResult
from clusterctl.core.facts import SCRIPT as FACTS_SCRIPT, Fact, frame
from clusterctl.events import Recorder, Reporter
from clusterctl.inventory import Host, Inventory
from clusterctl.core.session import Session
from clusterctl.errors import ConnectError


@dataclass(frozen=True)
class Call:
    """One remote script a step ran on a fake host."""

    host: str
    script: str
    args: tuple[str, ...]
    payload: bytes = b""
    sudo: bool = False

    @property
    def action(self) -> str:
        return self.args[0] if self.args else ""

    def written(self) -> tuple[str, str] | None:
        """(path, content) when this call is the write primitive's, checked against its own length and hash."""
        if self.script != "write_file.sh":
            return None
        path, _mode, _owner, _group, size, sha256, _dir_mode = self.args[:7]
        assert int(size) == len(self.payload) and hashlib.sha256(self.payload).hexdigest() == sha256
        return path, self.payload.decode()


def _split_stdin(stdin: bytes) -> tuple[str, bytes]:
    """(script name, payload) from what the core sent: a package script's text, then the payload."""
    for name in remote.names():
        text = remote.load(name).text
        if stdin.startswith(text):
            return name, stdin[len(text):]
    raise AssertionError(f"stdin does not start with a remote script: {stdin[:80]!r}")


@dataclass
class FakeRemote:
    """Hosts that answer facts from ``facts`` (host → name → Fact) and record every other script.

    A host moved to another address (:meth:`move`) is reached there when
    ``reachable(host, address)`` says so; moves are recorded in ``calls`` as the
    pseudo-script ``move`` with the address.
    """

    facts: dict[str, dict[str, Fact]]
    answer: Callable[[Call], CommandResult] = lambda call: CommandResult(0, "", "")
    calls: list[Call] = field(default_factory=list)
    reachable: Callable[[str, str], bool] = lambda host, address: True

    def execute(self, host: Host, command: str, stdin: Iterable[bytes] | None, *, timeout: float,
                sent=None) -> CommandResult:
        words = shlex.split(command)
        start = next(i for i, w in enumerate(words) if w in ("bash", "python3"))
        sudo = start > 0
        words = words[start:]
        interpreter = words[:3] if words[:1] == ["bash"] else words[:2]
        args = tuple(words[len(interpreter):])
        data = b"".join(stdin or ())
        if sudo and "-S" in command.split():  # sudo reads its password first
            data = data.split(b"\n", 1)[1]
        name, payload = _split_stdin(data)
        if sent is not None:
            sent(len(data))
        if name == FACTS_SCRIPT:
            return CommandResult(0, self._facts_for(host.name, args), "")
        call = Call(host.name, name, args, payload, sudo)
        self.calls.append(call)
        return self.answer(call)

    def _facts_for(self, host: str, args: tuple[str, ...]) -> str:
        known = self.facts.get(host, {})
        asked, i = {}, 0
        while i + 3 <= len(args):
            name, count = args[i], int(args[i + 2])
            asked[name] = known.get(name, Fact("", 1))
            i += 3 + count
        return frame(asked)

    def move(self, host: Host, address: str, deadline: float) -> bool:
        self.calls.append(Call(host.name, "move", (address,)))
        return self.reachable(host.name, address)

    def close(self) -> None:
        pass

    def drop(self, name: str) -> None:
        pass

    def by_host(self, host: str) -> list[Call]:
        return [c for c in self.calls if c.host == host]


def fake_session(inventory: Inventory, facts: dict[str, dict[str, Fact]], *,
                 answer: Callable[[Call], CommandResult] | None = None, limit: Iterable[str] | None = None,
                 become_password: str | None = None) -> tuple[Session, FakeRemote, Recorder]:
    """A real Session whose hosts are fake: (session, the fake remote, a recorder of every event)."""
    fake = FakeRemote(facts) if answer is None else FakeRemote(facts, answer)
    recorder = Recorder()
    session = Session(inventory, Reporter([recorder]), limit=limit, remote_factory=lambda s: fake,
                      become_password=become_password)
    return session, fake, recorder


def run_locally(name: str, *args: object, payload: bytes = b"", env: dict[str, str] | None = None,
                cwd=None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the package's remote script ``name`` here, as a host runs it: script then payload on stdin."""
    script = remote.load(name)
    return subprocess.run(shlex.split(script.command_line([str(a) for a in args])), input=script.text + payload,
                          capture_output=True, timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})


def refuse_connections(monkeypatch) -> list[str]:
    """Every attempt to reach a host from here on, recorded and refused: SSH logins (as if the host were
    down) and any socket connect (ZooKeeper's client port, a reachability probe), as a port nothing
    listens on refuses it. The list stays empty when a command touched no host."""
    attempts: list[str] = []

    def login(host, *args, **kwargs):
        attempts.append(f"ssh {host.name}")
        raise ConnectError(f"{host.name}: no SSH in unit tests")

    def connect(sock, address):
        attempts.append(f"connect {address}")
        raise ConnectionRefusedError(111, "Connection refused (a unit test)")

    monkeypatch.setattr("clusterctl.core.connection.open_connection", login)  # where a session connects
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", lambda sock, address: connect(sock, address))
    return attempts


def unreachable_inventory(jdk_package: str, node4: str = "3") -> str:
    """An inventory of five hosts (node1..node5) on loopback addresses at port 1, where nothing listens,
    with the ZooKeeper servers node2, node3 and node4 (``node4``: its entry), the packages and the
    super-user secret beside it: for commands that must refuse before they reach a host."""
    hosts = "".join(f'[hosts.node{i}]\naddress = "127.0.0.{10 + i}"\nport = 1\n' for i in range(1, 6))
    return (f'[cluster]\nname = "unreachable"\nknown_hosts = "known_hosts"\n{hosts}'
            f'[jdk]\npackage = "{jdk_package}"\n[zookeeper]\npackage = "apache-zookeeper-3.8.0-bin.tar.gz"\n'
            f'secret_file = "super-secret"\n[zookeeper.servers]\nnode2 = 1\nnode3 = 2\nnode4 = {node4}\n')
