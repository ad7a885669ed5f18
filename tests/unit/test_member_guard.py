"""remote/zk_member_guard.sh, the unit's start guard, run here against a peer that answers conf as a server does."""

from __future__ import annotations

import socket
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

from clusterctl import remote

GUARD = Path(remote.__file__).parent / "zk_member_guard.sh"


@contextmanager
def peer(answer: str):
    """A client port on 127.0.0.1 that answers every connection with ``answer`` (what conf says)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(16)
                conn.sendall(answer.encode())

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def conf(version: str, ids: list[int]) -> str:
    """conf's answer: the server's settings, then its membership and the membership's version."""
    members = "".join(f"server.{i}=node{i}:2888:3888:participant;0.0.0.0:2181\n" for i in ids)
    return f"clientPort=2181\ndataDir=/var/lib/zookeeper/version-2\nmembership: \n{members}version={version}"


def guard(tmp_path: Path, port: int, own: str = "zoo.cfg.dynamic.100000000") -> subprocess.CompletedProcess:
    """The guard of server 2 of {1, 2, 3}, server 1 at 127.0.0.1:``port``, server 3 not answering."""
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "myid").write_text("2\n")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead = closed.getsockname()[1]
    closed.close()
    (tmp_path / own).write_text(f"server.1=127.0.0.1:2888:3888:participant;0.0.0.0:{port}\n"
                                f"server.2=127.0.0.1:2888:3888:participant;0.0.0.0:1\n"
                                f"server.3=127.0.0.1:2888:3888:participant;0.0.0.0:{dead}")  # no last newline
    (tmp_path / "zoo.cfg").write_text(f"dataDir={tmp_path}/data\ndynamicConfigFile={tmp_path}/{own}\n")
    return subprocess.run(["bash", str(GUARD), str(tmp_path / "zoo.cfg")], capture_output=True, text=True,
                          timeout=30)


def test_a_server_left_out_of_a_newer_membership_is_not_started(tmp_path):
    with peer(conf("200000000", [1])) as port:
        refused = guard(tmp_path, port)
    assert refused.returncode == 1
    assert "server.2 was left out of the ensemble" in refused.stderr and "zk recover" in refused.stderr


def test_a_server_in_the_newer_membership_starts(tmp_path):
    with peer(conf("200000000", [1, 2, 3, 4])) as port:
        assert guard(tmp_path, port).returncode == 0


def test_a_server_whose_peers_run_its_own_membership_starts(tmp_path):
    with peer(conf("100000000", [1, 2, 3])) as port:
        assert guard(tmp_path, port).returncode == 0


def test_a_server_no_peer_answers_starts_as_after_a_power_cut_of_all(tmp_path):
    with peer("") as port:  # serves no conf (a server still looking says nothing of its membership)
        assert guard(tmp_path, port).returncode == 0


def test_a_membership_clusterctl_wrote_is_never_refused(tmp_path):
    with peer(conf("200000000", [1])) as port:  # a joiner of {1}: its own file has no version yet
        assert guard(tmp_path, port, own="zoo.cfg.dynamic").returncode == 0
