"""Four-letter words: parsing what real ZooKeeper 3.8 servers answered, and asking over TCP.

The answers below were captured from a real ensemble (3 voters and an
observer on loopback addresses, ZooKeeper 3.8.0 as clusterctl's artifact
builds it): srvr from each role, the head of mntr, and the answers of a
server that is electing or that does not allow the word.
"""

from __future__ import annotations

import socket
import threading

import pytest
from hypothesis import given, strategies as st

from clusterctl.zk.fourlw import (FourLetterWordError, UnexpectedAnswer, ask, format_zxid, parse_mntr,
                                  parse_remote_answers, parse_srvr, remote_ask_args, zxid_counter,
                                  zxid_epoch)

SRVR_LEADER = (
    'Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n'
    'Latency min/avg/max: 0/0.0/0\n'
    'Received: 2\n'
    'Sent: 1\n'
    'Connections: 1\n'
    'Outstanding: 0\n'
    'Zxid: 0x100000007\n'
    'Mode: leader\n'
    'Node count: 10\n'
    'Proposal sizes last/min/max: 48/48/90\n'
)

SRVR_FOLLOWER = (
    'Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n'
    'Latency min/avg/max: 4/13.0/34\n'
    'Received: 9\n'
    'Sent: 8\n'
    'Connections: 1\n'
    'Outstanding: 0\n'
    'Zxid: 0x100000007\n'
    'Mode: follower\n'
    'Node count: 10\n'
)

SRVR_OBSERVER = (
    'Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n'
    'Latency min/avg/max: 0/0.0/0\n'
    'Received: 2\n'
    'Sent: 1\n'
    'Connections: 1\n'
    'Outstanding: 0\n'
    'Zxid: 0x100000007\n'
    'Mode: observer\n'
    'Node count: 10\n'
)

MNTR_LEADER_HEAD = (
    'zk_version\t3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n'
    'zk_server_state\tleader\n'
    'zk_peer_state\tleading - broadcast\n'
    'zk_ephemerals_count\t0\n'
    'zk_num_alive_connections\t1\n'
    'zk_avg_latency\t0.0\n'
    'zk_min_proposal_size\t48\n'
    'zk_outstanding_requests\t0\n'
    'zk_znode_count\t10\n'
    'zk_global_sessions\t0\n'
    'zk_non_mtls_remote_conn_count\t0\n'
    'zk_last_client_response_size\t-1\n'
    'zk_packets_sent\t2\n'
    'zk_packets_received\t3\n'
    'zk_max_proposal_size\t90\n'
    'zk_max_client_response_size\t-1\n'
    'zk_synced_followers\t2\n'
    'zk_connection_drop_probability\t0.0\n'
    'zk_watch_count\t0\n'
    'zk_synced_non_voting_followers\t0\n'
    'zk_synced_observers\t1\n'
    'zk_auth_failed_count\t0\n'
    'zk_min_latency\t0\n'
    'zk_max_file_descriptor_count\t20000\n'
    'zk_approximate_data_size\t248\n'
    'zk_open_file_descriptor_count\t77\n'
    'zk_last_proposal_size\t48\n'
    'zk_pending_syncs\t0\n'
    'zk_leader_uptime\t16116\n'
    'zk_local_sessions\t0\n'
    'zk_uptime\t16331\n'
    'zk_max_latency\t0\n'
    'zk_outstanding_tls_handshake\t0\n'
    'zk_learners\t3\n'
    'zk_min_client_response_size\t-1\n'
    'zk_non_mtls_local_conn_count\t0\n'
    'zk_quorum_size\t3\n'
    'zk_proposal_count\t7\n'
    'zk_watch_bytes\t0\n'
    'zk_outstanding_changes_removed\t10\n'
)

MNTR_OBSERVER_HEAD = (
    'zk_version\t3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n'
    'zk_server_state\tobserver\n'
    'zk_peer_state\tobserving - broadcast\n'
    'zk_observer_master_id\t2\n'
    'zk_ephemerals_count\t0\n'
    'zk_num_alive_connections\t1\n'
    'zk_avg_latency\t0.0\n'
    'zk_outstanding_requests\t0\n'
    'zk_znode_count\t10\n'
    'zk_global_sessions\t0\n'
    'zk_non_mtls_remote_conn_count\t0\n'
    'zk_last_client_response_size\t-1\n'
)

SRVR_STANDALONE = (
    'Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n'
    'Latency min/avg/max: 0/0.0/0\n'
    'Received: 1\n'
    'Sent: 0\n'
    'Connections: 1\n'
    'Outstanding: 0\n'
    'Zxid: 0x0\n'
    'Mode: standalone\n'
    'Node count: 5\n'
)
NOT_SERVING_ANSWER = 'This ZooKeeper instance is not currently serving requests\n'
MNTR_NOT_WHITELISTED = 'mntr is not executed because it is not in the whitelist.\n'


def test_srvr_of_a_leader():
    srvr = parse_srvr(SRVR_LEADER)
    assert srvr.mode == "leader" and srvr.serving
    assert srvr.zxid == 0x100000007
    assert srvr.version == "3.8.0-${mvngit.commit.id}"
    assert (srvr.latency_min, srvr.latency_avg, srvr.latency_max) == (0, 0.0, 0)
    assert (srvr.received, srvr.sent, srvr.connections, srvr.outstanding, srvr.node_count) == (2, 1, 1, 0, 10)


def test_srvr_of_a_follower_keeps_its_latency():
    srvr = parse_srvr(SRVR_FOLLOWER)
    assert srvr.mode == "follower"
    assert (srvr.latency_min, srvr.latency_avg, srvr.latency_max) == (4, 13.0, 34)


@pytest.mark.parametrize("answer, mode, zxid", [(SRVR_OBSERVER, "observer", 0x100000007),
                                                (SRVR_STANDALONE, "standalone", 0)])
def test_srvr_of_an_observer_and_a_standalone_server(answer, mode, zxid):
    srvr = parse_srvr(answer)
    assert (srvr.mode, srvr.zxid) == (mode, zxid)


def test_a_server_that_is_electing_is_not_serving():
    srvr = parse_srvr(NOT_SERVING_ANSWER)
    assert srvr.mode is None and not srvr.serving and srvr.zxid is None
    assert parse_mntr(NOT_SERVING_ANSWER) is None


def test_a_word_the_server_does_not_allow_is_an_unexpected_answer():
    with pytest.raises(UnexpectedAnswer, match="four_letter_words"):
        parse_mntr(MNTR_NOT_WHITELISTED)
    with pytest.raises(UnexpectedAnswer):
        parse_srvr("srvr is not executed because it is not in the whitelist.\n")


def test_something_else_entirely_is_an_unexpected_answer():
    with pytest.raises(UnexpectedAnswer):
        parse_srvr("SSH-2.0-OpenSSH_9.2p1\r\n")


def test_mntr_of_a_leader_tells_its_synced_learners():
    mntr = parse_mntr(MNTR_LEADER_HEAD)
    assert mntr["zk_server_state"] == "leader"
    assert mntr["zk_peer_state"] == "leading - broadcast"
    assert (mntr["zk_synced_followers"], mntr["zk_synced_observers"], mntr["zk_learners"]) == ("2", "1", "3")


def test_mntr_of_an_observer():
    mntr = parse_mntr(MNTR_OBSERVER_HEAD)
    assert mntr["zk_server_state"] == "observer"
    assert mntr["zk_observer_master_id"] == "2"


@given(st.integers(0, 2**64 - 1))
def test_zxids_print_as_zookeeper_prints_them_and_split_into_epoch_and_counter(zxid):
    text = format_zxid(zxid)
    assert int(text, 16) == zxid and text == text.lower() and text.startswith("0x")
    assert zxid_epoch(zxid) << 32 | zxid_counter(zxid) == zxid


def test_the_remote_program_prints_answers_as_json(tmp_path):
    from tests.fakes import run_locally
    out = run_locally("zk_node.py", *remote_ask_args(_closed_port(), ["srvr"], timeout=1)).stdout.decode()
    answers = parse_remote_answers(out)
    assert isinstance(answers["srvr"], FourLetterWordError) and answers["srvr"].refused


def test_remote_answers_keep_text_and_errors_apart():
    answers = parse_remote_answers('{"srvr": "Mode: leader\\n", "mntr": {"error": "timed out", "refused": false}}')
    assert answers["srvr"] == "Mode: leader\n"
    assert isinstance(answers["mntr"], FourLetterWordError) and not answers["mntr"].refused


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ask_sends_the_word_and_reads_until_the_server_closes():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received = []

    def answer_once():
        conn, _ = server.accept()
        with conn:
            received.append(conn.recv(4))
            conn.sendall(SRVR_LEADER.encode())

    thread = threading.Thread(target=answer_once)
    thread.start()
    try:
        assert ask("127.0.0.1", server.getsockname()[1], "srvr") == SRVR_LEADER
    finally:
        thread.join(5)
        server.close()
    assert received == [b"srvr"]


def test_ask_on_a_closed_port_says_the_server_is_refusing():
    with pytest.raises(FourLetterWordError) as err:
        ask("127.0.0.1", _closed_port(), "srvr")
    assert err.value.refused


def test_ask_a_server_that_never_answers_times_out_without_calling_it_refused():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        with pytest.raises(FourLetterWordError, match="did not answer") as err:
            ask("127.0.0.1", server.getsockname()[1], "srvr", timeout=0.3)
        assert not err.value.refused
    finally:
        server.close()
