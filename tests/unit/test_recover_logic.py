"""zk recover's decisions, as data: when it is refused, which survivor the ensemble comes back from, what it
says it cannot know, and which servers are set aside and added back."""

from __future__ import annotations

import pytest

from clusterctl.core.session import reads_only
from clusterctl.errors import ExitStatus, Refused, UsageError
from clusterctl.zk.membership import Member
from clusterctl.zk.recover import Survivor, decide, parse_last_zxid

SERVERS = ["node1", "node2", "node3"]
THREE = {1: Member(1, "node1"), 2: Member(2, "node2"), 3: Member(3, "node3")}


def test_the_offline_reading_is_parsed_and_an_empty_server_has_no_zxid():
    assert parse_last_zxid("node1", "zxid 0x10000001b\ncount 20\n") == Survivor("node1", 0x10000001B, 20)
    assert parse_last_zxid("node2", "empty\n") == Survivor("node2", None)
    with pytest.raises(ValueError):
        parse_last_zxid("node3", "Exception in thread main\n")


def test_refused_naming_zk_replace_while_a_quorum_is_up():
    with pytest.raises(Refused, match="zk replace") as refused:
        decide(THREE, {"node1", "node2"}, {"node1", "node2"}, {}, SERVERS, set())
    assert refused.value.exit_status == ExitStatus.REFUSED


def test_refused_while_enough_voters_answer_to_elect_a_leader_themselves():
    with pytest.raises(Refused, match="zk start"):
        decide(THREE, {"node1", "node2"}, set(), {}, SERVERS, {"node1", "node2"})


def test_no_membership_is_no_ensemble_to_recover():
    with pytest.raises(UsageError, match="bootstrap"):
        decide({}, {"node1"}, set(), {}, SERVERS, set())


def test_the_survivor_with_the_highest_zxid_is_chosen_and_the_loss_said_honestly():
    five = {i: Member(i, f"node{i}") for i in range(1, 6)}
    servers = [f"node{i}" for i in range(1, 6)]
    survivors = {"node1": Survivor("node1", 0x100000020, 30), "node4": Survivor("node4", 0x100000031, 31)}
    verdict = decide(five, {"node1", "node4"}, set(), survivors, servers, {"node1", "node4"})
    assert (verdict.mode, verdict.source, verdict.zxid) == ("recover", "node4", 0x100000031)
    assert verdict.lost == ["node2", "node3", "node5"]
    assert verdict.rejoin == ["node1"] and verdict.waiting == ["node2", "node3", "node5"]
    said = verdict.honesty()
    assert "recovers to zxid 0x100000031" in said and "node1: last zxid 0x100000020" in said
    assert "only node2, node3, node5 may have had, cannot be known" in said


def test_a_tie_goes_to_the_voter_then_to_the_inventory_order():
    members = {**THREE, 4: Member(4, "node4", observer=True), 5: Member(5, "node5")}
    servers = ["node1", "node2", "node3", "node4", "node5"]
    same = {h: Survivor(h, 0x200000005, 9) for h in ("node4", "node3", "node2")}
    assert decide(members, {"node4", "node3", "node2"}, set(), same, servers, set()).source == "node2"
    same = {h: Survivor(h, 0x200000005, 9) for h in ("node4",)} | {"node1": Survivor("node1", 0x200000004, 9)}
    assert decide(members, {"node4", "node1"}, set(), same, servers, set()).source == "node4"


def test_nothing_to_recover_from_when_no_survivor_holds_data():
    with pytest.raises(Refused, match="zk restore"):
        decide(THREE, {"node1"}, set(), {"node1": Survivor("node1", None)}, SERVERS, set())


def test_a_recovered_ensemble_grows_back_with_the_servers_left_behind_once_they_answer():
    one = {1: Member(1, "node1")}
    verdict = decide(one, {"node1", "node3"}, {"node1"}, {}, SERVERS, {"node1", "node3"})
    assert (verdict.mode, verdict.rejoin, verdict.waiting) == ("grow", ["node3"], ["node2"])


def test_growing_back_is_refused_until_a_server_left_behind_answers():
    one = {1: Member(1, "node1")}
    with pytest.raises(Refused, match="node2, node3 do not answer: run clusterctl zk recover again"):
        decide(one, {"node1"}, {"node1"}, {}, SERVERS, {"node1"})
    with pytest.raises(Refused, match="add node2 with clusterctl zk add"):  # a fresh server: zk add's job
        decide(one, {"node1", "node2"}, {"node1"}, {}, SERVERS, {"node1"})


def test_reading_a_server_last_zxid_is_read_only_and_setting_it_aside_is_not():
    assert reads_only("zk_recover.sh", ["lastzxid"])
    assert not reads_only("zk_recover.sh", ["set-aside"])
