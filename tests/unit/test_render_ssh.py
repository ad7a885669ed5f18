"""Merge rules for authorized_keys, known_hosts and the /etc/hosts block."""

from __future__ import annotations

from hypothesis import given, strategies as st

from clusterctl.render.hosts_file import render_hosts_file
from clusterctl.render.managed_block import extract_block, replace_block
from clusterctl.render.ssh_keys import authorized_keys_merge, key_identity, render_known_hosts

blob = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", min_size=8, max_size=20)
key_line = st.builds(lambda t, b, c: f"{t} {b} {c}", st.sampled_from(["ssh-ed25519", "ssh-rsa"]), blob,
                     st.sampled_from(["root@node1", "ops@node2", "lab"]))


def test_key_identity_ignores_options_and_comment():
    assert key_identity('from="10.0.0.0/8",no-pty ssh-ed25519 AAAAC3 me@x') == ("ssh-ed25519", "AAAAC3")
    assert key_identity("# a comment") is None


@given(st.lists(key_line, max_size=6), st.lists(key_line, max_size=6))
def test_merge_keeps_existing_lines_adds_each_missing_key_once(existing, incoming):
    current = "".join(line + "\n" for line in existing)
    merged = authorized_keys_merge(current, incoming)
    assert merged.startswith(current)
    idents = [key_identity(line) for line in merged.splitlines()]
    assert set(idents) == {key_identity(k) for k in existing + incoming}
    added = merged[len(current):].splitlines()
    assert len({key_identity(a) for a in added}) == len(added)


@given(st.lists(key_line, max_size=6))
def test_merge_is_idempotent(keys):
    once = authorized_keys_merge("", keys)
    assert authorized_keys_merge(once, keys) == once


def test_merge_adds_newline_to_unterminated_file():
    assert authorized_keys_merge("ssh-rsa AAAA x", ["ssh-ed25519 BBBB y"]) == "ssh-rsa AAAA x\nssh-ed25519 BBBB y\n"


def test_known_hosts_block_lists_each_peer_under_name_and_address():
    text = render_known_hosts("|1|hashed= ssh-rsa OLD\n", "seed", {
        "node1": ("10.0.0.11", ["ssh-ed25519 AAAA root@node1", "ssh-rsa BBBB root@node1"]),
        "node2": ("10.0.0.12", ["ssh-ed25519 CCCC root@node2"]),
    })
    assert text.startswith("|1|hashed= ssh-rsa OLD\n")
    assert extract_block(text, "peers seed") == (
        "node1,10.0.0.11 ssh-ed25519 AAAA\nnode1,10.0.0.11 ssh-rsa BBBB\nnode2,10.0.0.12 ssh-ed25519 CCCC\n")


managed_body = st.lists(st.text("abcdef0123456789. ", min_size=1, max_size=12).map(str.strip).filter(bool),
                        max_size=5).map(lambda ls: "".join(line + "\n" for line in ls))
other_lines = st.lists(st.text("abcxyz0123456789. ", min_size=1, max_size=12), max_size=5)


@given(other_lines, managed_body, managed_body)
def test_replacing_a_block_twice_keeps_one_block_and_the_other_lines(others, body1, body2):
    text = "".join(line + "\n" for line in others)
    once = replace_block(text, "x", body1)
    twice = replace_block(once, "x", body2)
    assert extract_block(twice, "x") == body2
    assert twice.count("# BEGIN clusterctl x") == 1
    assert [line for line in twice.splitlines() if not line.startswith("# ") and line not in body2.splitlines()] \
        == [line for line in others if line not in body2.splitlines()]


def test_hosts_block_goes_first_and_is_stable():
    current = "127.0.0.1 localhost\n127.0.1.1 node1\n"
    addresses = {"node1": "10.0.0.11", "node2": "10.0.0.12"}
    once = render_hosts_file(current, "seed", addresses)
    assert once.splitlines()[:4] == ["# BEGIN clusterctl hosts seed", "10.0.0.11 node1", "10.0.0.12 node2",
                                     "# END clusterctl hosts seed"]
    assert once.endswith(current)
    assert render_hosts_file(once, "seed", addresses) == once
