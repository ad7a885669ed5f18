"""Membership changes as data: what each zk command asks for, and whether the quorum holds through it."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from clusterctl.errors import NoQuorum, Refused, UsageError
from clusterctl.quorum import quorum_size
from clusterctl.zk.membership import (Member, MembershipChange, apply_change, check_quorum_through, margin,
                                      members_of, membership_changes, removal_order)

WHERE = "inv.toml"


def members(*specs) -> dict[int, Member]:
    """members("node2", "node3", ("node4", True)): ids 1.. in order; a tuple marks an observer."""
    out = {}
    for i, spec in enumerate(specs, 1):
        host, observer = spec if isinstance(spec, tuple) else (spec, False)
        out[i] = Member(i, host, observer)
    return out


THREE = members("node2", "node3", "node4")
FIVE = members("node2", "node3", "node4", "node5", "node6")


def test_members_are_read_from_zookeepers_own_config_text():
    text = ("server.1=node2:2888:3888:participant;0.0.0.0:2181\n"
            "server.4=node5:2888:3888:observer;0.0.0.0:2181\nversion=100000003\n")
    assert members_of(text) == {1: Member(1, "node2"), 4: Member(4, "node5", True)}


def test_add_needs_the_server_listed_and_not_running():
    assert membership_changes("add", ["node5"], THREE, FIVE, WHERE) == [MembershipChange("add", FIVE[4])]
    with pytest.raises(UsageError, match=r"inv.toml: \[zookeeper.servers\]: node7 is not listed"):
        membership_changes("add", ["node7"], THREE, FIVE, WHERE)
    with pytest.raises(UsageError, match="already a member"):
        membership_changes("add", ["node3"], THREE, FIVE, WHERE)


def test_add_refuses_an_id_a_running_server_has():
    wanted = {**members("node2", "node3"), 3: Member(3, "node7")}
    with pytest.raises(UsageError, match="id 3 is running as node4"):
        membership_changes("add", ["node7"], THREE, wanted, WHERE)


def test_remove_needs_the_server_gone_from_the_inventory():
    wanted = members("node2", "node3", "node4")
    with pytest.raises(UsageError, match="node6 is still listed"):
        membership_changes("remove", ["node6"], FIVE, FIVE, WHERE)
    assert membership_changes("remove", ["node6"], FIVE, wanted, WHERE) == [MembershipChange("remove", FIVE[5])]


def test_removing_a_server_that_left_already_only_retires_it():
    assert membership_changes("remove", ["node6"], THREE, THREE, WHERE) == \
        [MembershipChange("retire", Member(0, "node6"))]


def test_promote_and_demote_need_the_inventory_to_say_the_new_role():
    demoted = {**FIVE, 5: Member(5, "node6", True)}
    assert membership_changes("demote", ["node6"], FIVE, demoted, WHERE) == [MembershipChange("demote", demoted[5])]
    with pytest.raises(UsageError, match="observer = true"):
        membership_changes("demote", ["node6"], FIVE, FIVE, WHERE)
    with pytest.raises(UsageError, match="already runs as a voter"):
        membership_changes("promote", ["node6"], FIVE, FIVE, WHERE)
    assert membership_changes("promote", ["node6"], demoted, FIVE, WHERE) == [MembershipChange("promote", FIVE[5])]


def test_a_reconfig_line_is_zookeepers_incremental_form():
    from tests.unit.test_zk_install import INV
    change = MembershipChange("add", Member(4, "node5", True))
    assert change.joining(INV.zookeeper) == "server.4=node5:2888:3888:observer;0.0.0.0:2181"
    assert change.leaving() is None
    assert MembershipChange("remove", Member(4, "node5")).leaving() == "4"


def test_growing_is_allowed_with_a_quorum_and_refused_without():
    up = {"node2", "node3", "node4"}
    changes = membership_changes("add", ["node5", "node6"], THREE, FIVE, WHERE)
    margins = check_quorum_through(THREE, up, changes)
    assert [(m.voters, m.up, m.needed) for m in margins] == [(4, 4, 3), (5, 5, 3)]
    with pytest.raises(NoQuorum):
        check_quorum_through(THREE, {"node2"}, changes)


def test_shrinking_five_to_three_is_allowed_and_three_to_one_is_refused():
    up = set(m.host for m in FIVE.values())
    shrink = membership_changes("remove", ["node5", "node6"], FIVE, THREE, WHERE)
    assert [m.tolerates for m in check_quorum_through(FIVE, up, shrink)] == [1, 1]
    to_one = membership_changes("remove", ["node3", "node4"], THREE, members("node2"), WHERE)
    with pytest.raises(Refused, match="unable to lose one more voter"):
        check_quorum_through(THREE, {"node2", "node3", "node4"}, to_one)


def test_removing_voters_the_remaining_quorum_needs_is_refused():
    # Five voters, two down: removing two of the three that serve leaves one of three up.
    up = {"node2", "node5", "node6"}
    changes = membership_changes("remove", ["node5", "node6"], FIVE, THREE, WHERE)
    with pytest.raises(Refused, match="could not keep a quorum"):
        check_quorum_through(FIVE, up, changes)


def test_removing_dead_servers_is_allowed_even_at_no_margin():
    up = {"node2", "node3", "node4"}
    changes = membership_changes("remove", ["node5", "node6"], FIVE, THREE, WHERE)
    assert [m.tolerates for m in check_quorum_through(FIVE, up, changes)] == [0, 1]


def test_replacing_a_dead_server_keeps_a_quorum_at_every_step():
    wanted = {1: THREE[1], 2: THREE[2], 4: Member(4, "node7")}
    changes = (membership_changes("add", ["node7"], THREE, wanted, WHERE)
               + membership_changes("remove", ["node4"], THREE, wanted, WHERE))
    margins = check_quorum_through(THREE, {"node2", "node3"}, changes)
    assert [(m.voters, m.up) for m in margins] == [(4, 3), (3, 3)]


def test_removals_go_down_servers_first_and_the_leader_last():
    changes = [MembershipChange("remove", m) for m in FIVE.values()]
    roles = {"node2": "leader", "node3": "follower", "node4": "down", "node5": "observer", "node6": "follower"}
    assert [c.member.host for c in removal_order(changes, roles)] == ["node4", "node5", "node3", "node6", "node2"]


@given(st.lists(st.booleans(), min_size=1, max_size=9), st.data())
def test_no_accepted_sequence_of_removals_ever_leaves_the_voters_without_a_quorum(observers, data):
    running = {i: Member(i, f"n{i}", obs) for i, obs in enumerate(observers, 1)}
    if all(m.observer for m in running.values()):
        running[1] = Member(1, "n1")
    up = {m.host for m in running.values() if data.draw(st.booleans())}
    leaving = data.draw(st.lists(st.sampled_from(sorted(running)), unique=True))
    changes = [MembershipChange("remove", running[i]) for i in leaving]
    try:
        margins = check_quorum_through(running, up, changes)
    except (Refused, NoQuorum):
        return
    state = dict(running)
    for change, after in zip(changes, margins):
        state = apply_change(state, change)
        voters = [m for m in state.values() if not m.observer]
        assert voters and sum(m.host in up for m in voters) >= quorum_size(len(voters))
        assert after == margin(state, up)
