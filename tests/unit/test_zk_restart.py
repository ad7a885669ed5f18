"""Rolling restart decisions: order, margin, and when a restarted server counts as back in sync."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from clusterctl.errors import NoQuorum
from clusterctl.zk.restart import NoMarginToRestart, check_margin, rolling_order
from clusterctl.zk.status import EnsembleStatus, ServerStatus, caught_up, lagging, serving_steadily


def ensemble(*servers: tuple[str, str], observers: tuple[str, ...] = ()) -> EnsembleStatus:
    return EnsembleStatus([ServerStatus(host, i + 1, host in observers, role, zxid=0x200000005)
                           for i, (host, role) in enumerate(servers)])


def test_followers_and_observers_first_the_leader_last():
    status = ensemble(("node2", "leader"), ("node3", "follower"), ("node4", "follower"), ("node5", "observer"),
                      observers=("node5",))
    assert rolling_order(status) == ["node5", "node3", "node4", "node2"]


def test_servers_that_are_not_serving_go_first_since_restarting_them_costs_nothing():
    status = ensemble(("a", "follower"), ("b", "leader"), ("c", "follower"), ("d", "follower"), ("e", "down"))
    assert rolling_order(status) == ["e", "a", "c", "d", "b"]


@given(st.permutations(["leader", "follower", "follower", "follower", "observer", "down"]))
def test_the_leader_is_always_last(roles):
    status = ensemble(*((f"n{i}", r) for i, r in enumerate(roles)), observers=("n%d" % roles.index("observer"),))
    order = rolling_order(status)
    assert order[-1] == f"n{roles.index('leader')}"
    assert sorted(order) == sorted(s.host for s in status.servers)


def test_a_full_ensemble_has_the_margin_to_roll():
    check_margin(ensemble(("a", "leader"), ("b", "follower"), ("c", "follower")))


def test_refuses_when_losing_one_more_voter_would_lose_the_quorum():
    with pytest.raises(NoMarginToRestart, match="c not in the quorum"):
        check_margin(ensemble(("a", "leader"), ("b", "follower"), ("c", "down")))


def test_refuses_without_a_quorum_as_no_quorum():
    with pytest.raises(NoQuorum):
        check_margin(ensemble(("a", "looking"), ("b", "down"), ("c", "down")))


def test_a_single_server_cannot_roll():
    with pytest.raises(NoMarginToRestart):
        check_margin(ensemble(("a", "standalone")))


def test_caught_up_when_the_learner_has_what_the_leader_had():
    assert caught_up(0x200000009, 0x200000009)
    assert caught_up(0x20000000a, 0x200000009)
    assert not caught_up(0x200000008, 0x200000009)
    assert not caught_up(None, 0x200000009)


def test_a_leader_without_writes_in_its_epoch_asks_for_nothing_more_than_the_join_sync():
    # A fresh leader reports epoch << 32; learners keep showing the last zxid of the epoch before.
    assert caught_up(0x100000007, 0x300000000)


def test_lagging_names_each_server_not_serving_or_behind_and_what_it_reports():
    status = ensemble(("a", "leader"), ("b", "follower"), ("c", "looking"), ("d", "down"))
    assert lagging(status, ["a", "b"], 0x200000005) == {}
    behind = lagging(status, ["b", "c", "d"], 0x200000006)
    assert set(behind) == {"b", "c", "d"}
    assert "behind the leader" in behind["b"] and "not serving yet (looking" in behind["c"]
    assert behind["d"].startswith("down")


def test_serving_steadily_needs_two_settled_probes_under_one_leader():
    whole = ensemble(("a", "leader"), ("b", "follower"), ("c", "observer"), observers=("c",))
    assert not serving_steadily(None, whole, ["a", "b", "c"]), "one probe is not enough"
    assert serving_steadily(whole, whole, ["a", "b", "c"])
    other_leader = ensemble(("a", "follower"), ("b", "leader"), ("c", "observer"), observers=("c",))
    assert not serving_steadily(whole, other_leader, ["c"])
    observer_looking = ensemble(("a", "leader"), ("b", "follower"), ("c", "looking"), observers=("c",))
    assert not serving_steadily(observer_looking, whole, ["c"]), "it was not serving the probe before"
    assert not serving_steadily(whole, observer_looking, ["c"])
    leaderless = ensemble(("a", "looking"), ("b", "follower"), ("c", "follower"))
    assert not serving_steadily(leaderless, leaderless, ["b"])


def probes(monkeypatch, *answers: EnsembleStatus) -> list[float]:
    """wait_until_serving's probes answer ``answers`` in turn (the last one repeated); the sleeps it took."""
    from clusterctl.zk import status as zk_status
    queue = list(answers)
    monkeypatch.setattr(zk_status, "probe", lambda session: queue.pop(0) if len(queue) > 1 else queue[0])
    return []


def wait(started: bool, slept: list[float]):
    from clusterctl.zk.status import wait_until_serving
    ticks = iter(range(1000))
    return wait_until_serving(None, ["a", "b"], 60, started=started, clock=lambda: next(ticks),
                              sleep=slept.append)


def test_a_run_that_started_no_server_takes_one_probe_of_a_settled_ensemble(monkeypatch):
    whole = ensemble(("a", "leader"), ("b", "follower"))
    slept = probes(monkeypatch, whole)
    assert wait(False, slept).met and slept == [], "no second probe, no sleep"
    assert wait(True, slept).met and len(slept) == 1, "a server started this run needs two probes"


def test_after_a_first_probe_that_fails_two_in_a_row_are_needed_again(monkeypatch):
    whole = ensemble(("a", "leader"), ("b", "follower"))
    looking = ensemble(("a", "leader"), ("b", "looking"))
    slept = probes(monkeypatch, looking, whole, whole)
    waited = wait(False, slept)
    assert waited.met and len(slept) == 2, "looking, then serving twice"


def test_plan_gives_each_restart_its_place_in_the_roll_the_leader_last():
    from clusterctl.steps.zookeeper import RollPlan, place_in_roll, roll_change
    status = ensemble(("a", "leader"), ("b", "follower"), ("c", "follower"), ("d", "observer"), observers=("d",))
    plans = {h: RollPlan(reasons=["zoo.cfg (syncLimit 5 → 7)"], pid=10 + i) for i, h in enumerate("abcd")}
    plans["c"] = RollPlan()  # needs nothing: not in the roll
    for plan in plans.values():
        if plan.reasons:
            plan.changes.append(roll_change(plan.pid, plan.reasons))
    assert place_in_roll(plans, status) == ["d", "b", "a"]
    assert plans["d"].changes[0].summary.endswith("(1 of 3 in the roll: d, b, a)")
    assert plans["a"].changes[0].summary == ("restart needed: the server (pid 10) zoo.cfg (syncLimit 5 → 7) "
                                             "(3 of 3 in the roll: d, b, a; the leader now, so last)")
    assert plans["c"].changes == []


def test_a_server_that_serves_no_one_may_restart_without_margin_a_serving_one_may_not():
    """Restarting a voter outside the quorum (looking: a wrong password put right, say) takes nothing from it."""
    status = ensemble(("a", "leader"), ("b", "follower"), ("c", "looking"))
    check_margin(status, "c")
    with pytest.raises(NoMarginToRestart):
        check_margin(status, "b")
    with pytest.raises(NoMarginToRestart):
        check_margin(status)
    with pytest.raises(NoQuorum):
        check_margin(ensemble(("a", "looking"), ("b", "looking"), ("c", "follower")), "a")
