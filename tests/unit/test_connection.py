"""Making connections: nothing shared between hosts' connections that one of them rebuilds."""

from __future__ import annotations

import sys
import threading

from clusterctl.core.connection import _connection


def test_connections_made_at_once_in_many_threads_all_come_out_whole():
    # Making a Fabric Connection rebuilds its config in place; with one config shared by every host,
    # a connection made at that moment in another thread found no 'gateway' key. Seen on the lab as
    # "gather failed: AttributeError: No attribute or config key found for 'gateway'".
    errors: list[str] = []

    def make(worker: int) -> None:
        try:
            for i in range(300):  # constructing connects nothing: no address here is ever reached
                _connection(f"10.0.{worker}.{i % 250 + 1}", "root", 22, None, None, None)
        except Exception as exc:  # the failure under test, from any thread
            errors.append(repr(exc))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can: the race shows within a second
    try:
        threads = [threading.Thread(target=make, args=(worker,)) for worker in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == [], errors[:3]


class FakeConnection:
    def __init__(self, address: str):
        self.address, self.is_connected, self.closed = address, True, False
        self.client = self  # conn.client.get_transport().get_remote_server_key()

    def get_transport(self):
        return self

    def get_remote_server_key(self):
        return "key"

    def close(self):
        self.closed, self.is_connected = True, False


class Opener:
    """Stands in for connection.open_connection: counts the connections opened, waits, or fails."""

    def __init__(self, fail: bool = False, gate: threading.Event | None = None):
        self.opened: list[str] = []
        self.fail, self.gate = fail, gate

    def __call__(self, host, known_hosts, password, gateway):
        from clusterctl.errors import ConnectError
        if self.gate is not None:
            self.gate.wait(5)
        self.opened.append(host.name)
        if self.fail:
            raise ConnectError(f"cannot reach {host.address}: refused")
        return FakeConnection(host.address)


def remote_with(monkeypatch, opener):
    from clusterctl.core import connection
    from clusterctl.core.session import SshRemote
    from clusterctl.inventory import Host
    monkeypatch.setattr(connection, "open_connection", opener)
    session = type("S", (), {"forks": 4, "known_hosts": None, "password": None, "stopping": threading.Event()})()
    return SshRemote(session), [Host(name=f"node{i}", address=f"10.0.0.{i}", user="root", port=22, identity=None)
                               for i in (1, 2)]


def wait_for(condition):
    for _ in range(500):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("timed out")


def test_a_connection_opened_early_is_the_one_the_first_command_uses(monkeypatch):
    opener = Opener()
    remote, hosts = remote_with(monkeypatch, opener)
    remote.connect_early(hosts)
    wait_for(lambda: len(opener.opened) == 2)
    assert remote.connection(hosts[0]) is remote.connection(hosts[0])
    remote.connect_early(hosts)  # asked again: nothing more is opened
    assert sorted(opener.opened) == ["node1", "node2"]


def test_a_connection_that_fails_early_fails_the_first_command_with_its_error_and_is_tried_once(monkeypatch):
    import pytest

    from clusterctl.errors import ConnectError
    gate = threading.Event()
    opener = Opener(fail=True, gate=gate)
    remote, hosts = remote_with(monkeypatch, opener)
    remote.connect_early(hosts[:1])
    wait_for(lambda: hosts[0].name in remote._locks)
    gate.set()  # the command below waits for the early attempt rather than making its own
    with pytest.raises(ConnectError, match="cannot reach 10.0.0.1"):
        remote.connection(hosts[0])
    assert opener.opened == ["node1"]
    with pytest.raises(ConnectError):  # a later command tries again, as without the early start
        remote.connection(hosts[0])
    assert opener.opened == ["node1", "node1"]


def test_a_connection_still_opening_when_the_run_ends_is_closed(monkeypatch):
    gate = threading.Event()
    opener = Opener(gate=gate)
    remote, hosts = remote_with(monkeypatch, opener)
    remote.connect_early(hosts[:1])
    wait_for(lambda: hosts[0].name in remote._locks)
    remote.close()
    gate.set()
    wait_for(lambda: opener.opened == ["node1"])
    wait_for(lambda: remote._connections == {})
    assert remote._connections == {}
