"""The SSH proof judged from files: each host's files indexed once, each pair a few lookups; and how the proof
is shown when the N×N table would not fit."""

from __future__ import annotations

from clusterctl.display import MATRIX_MAX_HOSTS, matrix_summary
from clusterctl.inventory import load_inventory
from clusterctl.render.ssh_keys import render_known_hosts
from clusterctl.steps.ssh_trust import ProofIndex, TrustState, pair_problem
from test_inventory import write

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{}"
USER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAU{} root@{}"


def lab(tmp_path, count: int):
    names = [f"n{i}" for i in range(1, count + 1)]
    text = '[cluster]\nname = "c"\nknown_hosts = "kh"\n' + "".join(
        f'[hosts.{n}]\naddress = "10.9.{i // 200}.{i % 200 + 10}"\n' for i, n in enumerate(names))
    inventory = load_inventory(write(tmp_path, text))
    peers = {n: (inventory.hosts[n].address, [HOST_KEY.format(n)]) for n in names}
    authorized = "".join(USER_KEY.format(n, n) + "\n" for n in names)
    states = {n: TrustState(pubkey=USER_KEY.format(n, n), authorized_keys=authorized,
                            known_hosts=render_known_hosts("", "c", peers), host_keys=(HOST_KEY.format(n),),
                            modes_ok=True) for n in names}
    resolved = {n: {m: inventory.hosts[m].address for m in names} for n in names}
    return inventory, names, states, resolved


def test_a_pair_is_proven_from_both_ends_files_and_each_gap_is_named(tmp_path):
    inventory, names, states, resolved = lab(tmp_path, 3)
    index = ProofIndex.of(states, "c")
    assert pair_problem(inventory, "n1", "n2", index, resolved) is None
    states["n2"] = TrustState(states["n2"].pubkey, "", states["n2"].known_hosts, states["n2"].host_keys, True)
    states["n3"] = TrustState(states["n3"].pubkey, states["n3"].authorized_keys, "", states["n3"].host_keys, True)
    index = ProofIndex.of(states, "c")
    assert pair_problem(inventory, "n1", "n2", index, resolved) == "n2's authorized_keys lacks n1's key"
    assert pair_problem(inventory, "n3", "n1", index, resolved) == \
        "n3's known_hosts does not pin the host keys n1's sshd serves"
    assert pair_problem(inventory, "n1", "n3", index, {"n1": {}}) == "n3 does not resolve to 10.9.0.12 in n1's /etc/hosts"


def test_every_pair_of_256_hosts_is_proven_from_one_index(tmp_path):
    """65,280 pairs from files indexed once per host (its speed is benchmarks/side_by_side.py's)."""
    inventory, names, states, resolved = lab(tmp_path, 256)
    index = ProofIndex.of(states, "c")
    assert set(index.pinned["n1"]) == set(names) and len(index.authorized["n7"]) == 256
    problems = [pair_problem(inventory, s, t, index, resolved) for s in names for t in names if s != t]
    assert problems == [None] * (256 * 255)


def test_a_matrix_too_wide_to_draw_is_one_line_of_counts():
    hosts = [f"n{i}" for i in range(MATRIX_MAX_HOSTS + 1)]
    results = {s: {t: None for t in hosts if t != s} for s in hosts}
    results["n0"]["n1"] = "no answer"
    del results["n2"]
    pairs = len(hosts) * (len(hosts) - 1)
    said = matrix_summary(hosts, results, 17)
    assert said == (f"node → node SSH (BatchMode, strict host keys; 17 real logins): 17 hosts, {pairs - 17} of "
                    f"{pairs} pairs proven, 1 failed, 16 not checked")
