"""From what each server says of itself to roles, and from roles to the quorum verdict."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from clusterctl.inventory import ZkServer
from clusterctl.zk.fourlw import FourLetterWordError
from clusterctl.zk.status import (EnsembleStatus, ServerStatus, ask_server, quorum_state, role_of, server_status,
                                  wait_for)
from clusterctl.zk.fourlw import parse_srvr

from test_zk_fourlw import (MNTR_LEADER_HEAD, NOT_SERVING_ANSWER, SRVR_FOLLOWER, SRVR_LEADER, SRVR_OBSERVER,
                             SRVR_STANDALONE)

NODE2, NODE3, NODE4 = ZkServer("node2", 1), ZkServer("node3", 2), ZkServer("node4", 3)


def server(host: str, role: str, sid: int = 1, observer: bool = False, zxid: int | None = None) -> ServerStatus:
    return ServerStatus(host, sid, observer, role, zxid=zxid)


@pytest.mark.parametrize("answer, role", [(SRVR_LEADER, "leader"), (SRVR_FOLLOWER, "follower"),
                                          (SRVR_OBSERVER, "observer"), (SRVR_STANDALONE, "standalone"),
                                          (NOT_SERVING_ANSWER, "looking")])
def test_role_is_what_the_server_says_and_looking_when_it_does_not_serve(answer, role):
    assert role_of(parse_srvr(answer)) == role


def test_a_leader_with_mntr_reports_its_synced_learners():
    status = server_status(NODE3, {"srvr": SRVR_LEADER, "mntr": MNTR_LEADER_HEAD}, "client port")
    assert status.role == "leader" and status.zxid == 0x100000007
    assert status.synced_learners == (2, 1)
    assert status.latency == (0, 0.0, 0) and status.connections == 1


def test_a_refused_connection_is_a_down_server_with_the_reason():
    status = server_status(NODE2, {"srvr": FourLetterWordError("node2:2181 refused", refused=True)}, "client port")
    assert status.role == "down" and "refused" in status.error and not status.serving


def test_an_answer_that_is_not_srvr_is_unknown_not_down():
    status = server_status(NODE2, {"srvr": "srvr is not executed because it is not in the whitelist.\n"}, "ssh")
    assert status.role == "unknown" and "four_letter_words" in status.error


def test_json_contract():
    servers = [server_status(NODE2, {"srvr": SRVR_LEADER}, "client port"),
               server_status(NODE3, {"srvr": SRVR_FOLLOWER}, "client port"),
               server_status(NODE4, {"srvr": SRVR_FOLLOWER}, "ssh")]
    data = json.loads(json.dumps(EnsembleStatus(servers).to_json()))
    assert data["servers"][0]["host"] == "node2" and data["servers"][0]["id"] == 1
    assert data["servers"][0]["role"] == "leader" and data["servers"][0]["zxid"] == "0x100000007"
    assert data["servers"][1]["latency"] == {"min": 4, "avg": 13.0, "max": 34}
    assert data["servers"][2]["via"] == "ssh"
    assert data["quorum"] == {"voters": 3, "up": 3, "needed": 2, "has_quorum": True, "tolerates": 1}
    assert data["leader"] == "node2"


def test_the_runbook_ensemble_with_one_voter_down_still_has_quorum_but_no_margin():
    q = quorum_state([server("node2", "leader"), server("node3", "follower"), server("node4", "down")])
    assert (q.voters, q.up, q.needed, q.has_quorum, q.tolerates) == (3, 2, 2, True, 0)
    assert q.describe() == "voters up 2 of 3, quorum needs 2, tolerates 0 more failures"


def test_observers_serve_but_do_not_count_towards_the_quorum():
    q = quorum_state([server("node2", "leader"), server("node3", "down"), server("node4", "down"),
                      server("node5", "observer", observer=True)])
    assert (q.voters, q.up, q.has_quorum) == (3, 1, False)


def test_looking_voters_are_not_part_of_a_quorum():
    q = quorum_state([server(f"n{i}", "looking") for i in range(3)])
    assert not q.has_quorum and q.up == 0


def test_five_voters_with_two_down_have_quorum_and_three_down_do_not():
    def five(down: int) -> EnsembleStatus:
        roles = ["leader"] + ["follower"] * 4
        return EnsembleStatus([server(f"n{i}", "down" if i < down else roles[i], i) for i in range(5)])
    assert five(2).quorum.has_quorum and five(2).quorum.tolerates == 0
    assert not five(3).quorum.has_quorum


def test_settled_needs_a_leader_as_well_as_a_quorum():
    followers_only = EnsembleStatus([server("a", "follower"), server("b", "follower"), server("c", "looking")])
    assert followers_only.quorum.has_quorum and not followers_only.settled
    standalone = EnsembleStatus([server("a", "standalone")])
    assert standalone.settled and standalone.leader.host == "a"


@given(st.lists(st.sampled_from(["leader", "follower", "observer", "standalone", "looking", "down", "unknown"]),
                min_size=1, max_size=9),
       st.lists(st.booleans(), min_size=9, max_size=9))
def test_quorum_is_more_than_half_of_the_voters_in_a_voting_role(roles, observer_flags):
    servers = [server(f"n{i}", r, i, observer=observer_flags[i]) for i, r in enumerate(roles)]
    voters = [s for s in servers if not s.observer]
    if not voters:
        return
    q = quorum_state(servers)
    up = sum(s.role in ("leader", "follower", "standalone") for s in voters)
    assert q.has_quorum == (2 * up > len(voters))
    assert q.tolerates == max(0, up - (len(voters) // 2 + 1))


class FakeContext:
    """A HostContext stand-in whose remote commands answer with ``remote`` (or raise it)."""

    def __init__(self, remote):
        self.host = type("Host", (), {"name": "node2", "address": "127.0.0.1"})()
        self.remote = remote
        self.commands: list[str] = []

    def run_script(self, name: str, *args, **kwargs):
        self.commands.append(" ".join([name, *map(str, args)]))
        if isinstance(self.remote, Exception):
            raise self.remote
        return type("Result", (), {"ok": True, "stdout": self.remote, "stderr": "", "exited": 0})()


def unreachable(address, port, word, timeout=None, tls=None):
    raise FourLetterWordError(f"{address}:{port} did not answer within 2s")


def refusing(address, port, word, timeout=None, tls=None):
    raise FourLetterWordError(f"{address}:{port} refused the connection", refused=True)


def test_a_client_port_out_of_reach_is_asked_on_the_node_over_ssh(monkeypatch):
    monkeypatch.setattr("clusterctl.zk.status.ask", unreachable)
    ctx = FakeContext(json.dumps({"srvr": SRVR_FOLLOWER}))
    answers, via = ask_server(ctx, 2181, ["srvr"])
    assert via == "ssh" and answers["srvr"] == SRVR_FOLLOWER
    assert ctx.commands == ["zk_node.py ask 2181 2 srvr"]
    assert server_status(NODE2, answers, via).role == "follower"


def test_a_refusing_server_is_down_without_asking_over_ssh(monkeypatch):
    monkeypatch.setattr("clusterctl.zk.status.ask", refusing)
    ctx = FakeContext(json.dumps({"srvr": SRVR_FOLLOWER}))
    answers, via = ask_server(ctx, 2181, ["srvr"])
    assert ctx.commands == [] and via == "client port"
    assert server_status(NODE2, answers, via).role == "down"


def test_a_node_out_of_reach_both_ways_is_down_with_both_reasons(monkeypatch):
    monkeypatch.setattr("clusterctl.zk.status.ask", unreachable)
    answers, via = ask_server(FakeContext(OSError("No route to host")), 2181, ["srvr"])
    status = server_status(NODE2, answers, via)
    assert status.role == "down"
    assert "did not answer" in status.error and "over SSH: No route to host" in status.error


def test_waiting_ends_when_the_condition_holds_when_time_is_up_or_when_it_is_hopeless(monkeypatch):
    statuses = iter([EnsembleStatus([server("a", "looking")]), EnsembleStatus([server("a", "standalone")])])
    monkeypatch.setattr("clusterctl.zk.status.probe", lambda session: next(statuses))
    clock = iter(range(100)).__next__
    waited = wait_for(None, lambda st: st.settled, 10, clock=clock, sleep=lambda s: None)
    assert waited.met and waited.status.leader.host == "a"

    monkeypatch.setattr("clusterctl.zk.status.probe", lambda session: EnsembleStatus([server("a", "down")]))
    timed_out = wait_for(None, lambda st: st.settled, 3, clock=iter(range(100)).__next__, sleep=lambda s: None)
    assert not timed_out.met and timed_out.elapsed == 3
    given_up = wait_for(None, lambda st: st.settled, 60, hopeless=lambda st: True,
                        clock=iter(range(100)).__next__, sleep=lambda s: None)
    assert not given_up.met and given_up.elapsed == 1


def test_role_changes_name_each_server_that_changed_and_a_new_leader():
    from clusterctl.zk.status import role_changes
    before = EnsembleStatus([server("node2", "leader"), server("node3", "follower", 2), server("node4", "follower", 3)])
    after = EnsembleStatus([server("node2", "down"), server("node3", "leader", 2), server("node4", "follower", 3)])
    assert role_changes(None, before) == []
    assert role_changes(before, before) == []
    assert role_changes(before, after) == ["node2: leader → down", "node3: follower → leader", "leader: node2 → node3"]
