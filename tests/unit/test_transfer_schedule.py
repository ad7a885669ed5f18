"""The transfer core's pure parts: relay schedule, pipeline verdicts, hash-skip decisions, and the
host script itself, run locally with bash (the last hop of a pipeline needs no SSH)."""

from __future__ import annotations

import hashlib
import math

import pytest
from hypothesis import given, strategies as st

from clusterctl.core.facts import Fact, gather_args, parse_facts
from clusterctl.core.host_receive import (HostReport, RemotePaths, chain_outcomes, parse_reports, receive_args)
from clusterctl.core.transfer import (COPY, KEEP, STAMP, Copy, LocalFile, StagedFile, relay_edges, relay_rounds,
                                      staged_query, staging_action)
from clusterctl.errors import TransferError
from tests.fakes import run_locally

names = st.integers(0, 70).map(lambda n: [f"node{k}" for k in range(1, n + 1)])


# -- relay schedule --------------------------------------------------------------

@given(names)
def test_relay_reaches_every_target_exactly_once(targets):
    copies = [c for batch in relay_rounds(targets) for c in batch]
    assert sorted(c.target for c in copies) == sorted(targets)


@given(names)
def test_relay_sends_only_from_hosts_that_already_have_the_file(targets):
    have = set()
    for batch in relay_rounds(targets):
        sources = [c.source for c in batch]
        assert len(sources) == len(set(sources)), "a source sends one copy per round"
        assert all(s is None or s in have for s in sources)
        have |= {c.target for c in batch}


@given(names)
def test_relay_controller_uploads_once_then_copies_double_each_round(targets):
    rounds = relay_rounds(targets)
    assert sum(c.source is None for batch in rounds for c in batch) == (1 if targets else 0)
    n = len(targets)
    assert len(rounds) == (0 if n == 0 else 1 + math.ceil(math.log2(n)))
    # Never more than one round above the ideal where the controller also sent in every round.
    assert len(rounds) <= math.ceil(math.log2(n + 1)) + 1
    for k, batch in enumerate(rounds[1:]):
        assert len(batch) <= 2 ** k


@given(names, st.integers(1, 9).map(lambda n: [f"seed{k}" for k in range(n)]))
def test_relay_starts_from_hosts_that_hold_a_copy_without_the_controller(targets, holders):
    rounds = relay_rounds(targets, holders)
    assert all(c.source is not None for batch in rounds for c in batch)
    n, h = len(targets), len(holders)
    assert len(rounds) == (0 if n == 0 else math.ceil(math.log2((n + h) / h)))


def test_relay_of_four_nodes_is_a_binomial_tree():
    assert relay_rounds(["n1", "n2", "n3", "n4"]) == [
        [Copy(None, "n1")], [Copy("n1", "n2")], [Copy("n1", "n3"), Copy("n2", "n4")]]


@given(names)
def test_each_source_sends_to_one_target_at_a_time(targets):
    rounds = relay_rounds(targets)
    edges = relay_edges(rounds)
    assert set(edges) == set(targets)
    order = [c.target for batch in rounds for c in batch]
    for target, edge in edges.items():
        if edge.after is not None:
            assert edges[edge.after].source == edge.source
            assert order.index(edge.after) < order.index(target)


# -- pipeline verdicts -------------------------------------------------------------

def test_reports_are_read_from_mixed_output():
    out = "noise\nclusterctl-transfer node2 ok\nclusterctl-transfer node1 forward-failed node2 refused\n"
    assert parse_reports(out) == [HostReport("node2", "ok"), HostReport("node1", "forward-failed", "node2 refused")]


def test_every_host_of_a_whole_chain_is_verified():
    reports = [HostReport(h, "ok") for h in ("a", "b", "c")]
    assert chain_outcomes(["a", "b", "c"], reports) == {"a": None, "b": None, "c": None}


def test_a_broken_link_fails_the_hosts_after_it_and_names_the_cause():
    reports = [HostReport("a", "ok"), HostReport("b", "ok"), HostReport("b", "forward-failed", "c Connection refused")]
    result = chain_outcomes(["a", "b", "c", "d"], reports)
    assert result["a"] is None and result["b"] is None
    assert "b could not pass it on to c: Connection refused" in result["c"]
    assert "b could not pass it on to c" in result["d"]


def test_a_host_that_failed_its_check_still_passes_the_stream_on():
    reports = [HostReport("a", "failed", "hash mismatch"), HostReport("b", "ok")]
    assert chain_outcomes(["a", "b"], reports) == {"a": "hash mismatch", "b": None}


def test_a_lost_controller_stream_fails_the_whole_chain_with_its_reason():
    result = chain_outcomes(["a", "b"], [], broken="connection lost after 9 MB")
    assert all("connection lost after 9 MB" in why for why in result.values())


# -- hash-skip decisions ---------------------------------------------------------------

LOCAL = LocalFile(path=None, size=10, sha256="a" * 64)
MTIME = "2026-01-01 10:00:00.123456789 +0000"


@pytest.mark.parametrize("staged, action", [
    (StagedFile(), COPY),
    (StagedFile(10, MTIME, MTIME, "a" * 64), KEEP),
    (StagedFile(10, MTIME, "2025-01-01 00:00:00.000000000 +0000", "a" * 64, hashed_sha256="a" * 64), STAMP),
    (StagedFile(10, MTIME, hashed_sha256="a" * 64), STAMP),
    (StagedFile(10, MTIME, hashed_sha256="b" * 64), COPY),
    (StagedFile(10, MTIME, MTIME, "b" * 64), COPY),
    (StagedFile(9, MTIME, MTIME, "a" * 64), COPY),
], ids=["absent", "stamped", "stale-stamp-same-bytes", "no-stamp-same-bytes", "other-bytes",
        "stamp-of-other-bytes", "other-size"])
def test_staging_action(staged, action):
    assert staging_action(staged, LOCAL) == action


def test_a_stale_stamp_is_not_trusted():
    staged = StagedFile(10, MTIME, "2025-01-01 00:00:00.000000000 +0000", "a" * 64)
    assert staged.sha256 is None


def test_names_that_would_need_quoting_between_hosts_are_refused():
    with pytest.raises(TransferError):
        RemotePaths("/opt/apps", "jdk 17.rpm")
    with pytest.raises(TransferError):
        RemotePaths("/opt/my apps", "jdk.rpm")
    with pytest.raises(TransferError):
        receive_args(RemotePaths("/opt/apps", "jdk.rpm"), "a" * 64, "recv", "root@node1;reboot")


# -- the host script and the gather snippet, run here with bash ---------------------------

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


def recv_locally(tmp_path, data: bytes, want: str):
    remote = RemotePaths(str(tmp_path / "stage"), "pkg.tar.gz")
    result = run_locally("receive.sh", *receive_args(remote, want, "recv", "me"), payload=data)
    return remote, parse_reports(result.stdout.decode())


def gathered_state(remote: RemotePaths, size: int) -> StagedFile:
    out = run_locally("facts.sh", *gather_args([staged_query(remote, size)])).stdout.decode()
    return StagedFile.from_fact(parse_facts(out)[remote.fact_name])


def test_a_verified_copy_is_renamed_into_place_with_a_stamp(tmp_path):
    want = hashlib.sha256(PAYLOAD).hexdigest()
    remote, reports = recv_locally(tmp_path, PAYLOAD, want)
    assert reports == [HostReport("me", "ok")]
    final = tmp_path / "stage" / "pkg.tar.gz"
    assert final.read_bytes() == PAYLOAD
    assert (tmp_path / "stage" / "pkg.tar.gz.sha256").read_text() == f"{want}  pkg.tar.gz\n"
    assert not (tmp_path / "stage" / ".pkg.tar.gz.clusterctl-part").exists()
    local = LocalFile(final, len(PAYLOAD), want)
    assert staging_action(gathered_state(remote, len(PAYLOAD)), local) == KEEP


def test_a_truncated_stream_leaves_nothing_under_the_final_name(tmp_path):
    want = hashlib.sha256(PAYLOAD).hexdigest()
    remote, reports = recv_locally(tmp_path, PAYLOAD[:1000], want)
    assert reports[0].verdict == "failed" and "hash mismatch" in reports[0].detail
    assert sorted(p.name for p in (tmp_path / "stage").iterdir()) == []


def test_a_failed_copy_keeps_the_old_file(tmp_path):
    old = hashlib.sha256(b"old").hexdigest()
    recv_locally(tmp_path, b"old", old)
    recv_locally(tmp_path, PAYLOAD[:10], hashlib.sha256(PAYLOAD).hexdigest())
    assert (tmp_path / "stage" / "pkg.tar.gz").read_bytes() == b"old"


def test_a_file_changed_behind_the_stamp_is_hashed_again(tmp_path):
    want = hashlib.sha256(PAYLOAD).hexdigest()
    remote, _ = recv_locally(tmp_path, PAYLOAD, want)
    final = tmp_path / "stage" / "pkg.tar.gz"
    final.write_bytes(b"x" * len(PAYLOAD))  # same size, new mtime
    state = gathered_state(remote, len(PAYLOAD))
    assert not state.stamp_current
    assert staging_action(state, LocalFile(final, len(PAYLOAD), want)) == COPY


def test_a_good_file_without_a_stamp_is_hashed_once(tmp_path):
    want = hashlib.sha256(PAYLOAD).hexdigest()
    remote, _ = recv_locally(tmp_path, PAYLOAD, want)
    (tmp_path / "stage" / "pkg.tar.gz.sha256").unlink()
    state = gathered_state(remote, len(PAYLOAD))
    assert state.hashed_sha256 == want
    assert staging_action(state, LocalFile(None, len(PAYLOAD), want)) == STAMP


def test_the_gather_does_not_hash_a_file_of_the_wrong_size(tmp_path):
    remote = RemotePaths(str(tmp_path), "pkg.tar.gz")
    (tmp_path / "pkg.tar.gz").write_bytes(b"abc")
    state = gathered_state(remote, 4)
    assert state.size == 3 and state.hashed_sha256 == ""


def test_the_gather_reports_no_file_as_absent(tmp_path):
    assert gathered_state(RemotePaths(str(tmp_path), "pkg.tar.gz"), 4) == StagedFile()
    assert StagedFile.from_fact(Fact("", 0)) == StagedFile()
