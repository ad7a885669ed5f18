"""The runbook's step 2: passwordless SSH among all nodes, done right.

Instead of relaying one authorized_keys file node1 → node2 → … → back, every
node's key is collected at once and merged into every node's authorized_keys,
and every node learns the others' host keys. Three steps: the key pairs
(``ssh-keys``), the files (``ssh-trust``), and the proof (``verify-ssh``).
Private keys never leave their node. The files are decided from the facts of
every trust host, whichever hosts the run may change: repairing one node
must not make it forget its peers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..core.facts import FactQuery, query
from ..core.host_receive import NODE_KEX
from ..core.session import HostContext, HostResults, Outcome
from ..events import State
from ..inventory import Host, Inventory
from ..plan import Change, file_change
from ..render.hosts_file import parse_hosts_block
from ..render.managed_block import extract_block
from ..render.ssh_keys import authorized_keys_merge, key_identity, render_known_hosts
from .base import Facts, HostPlan, Step, StepRun

PHASE = "ssh-trust"
SCRIPT = "ssh_trust.sh"
CHECK_PARALLEL = 4  # logins one source makes at once; rotation spreads them over the targets
VERIFY_MODES = ("ring", "full")


def trust_user(inventory: Inventory, host: str) -> str:
    """Whose SSH trust it is on ``host``: [ssh_trust] user, else the login user."""
    return inventory.ssh_trust.user or inventory.hosts[host].user


def ssh_dir(user: str) -> str:
    # Named by user, not ~/: the facts run as root where the login user is not, and the trust may be another's.
    return f"~{user}/.ssh"


def key_path(user: str, key_type: str) -> str:
    return f"{ssh_dir(user)}/id_{key_type}"


def authorized_keys(user: str) -> str:
    return f"{ssh_dir(user)}/authorized_keys"


def known_hosts(user: str) -> str:
    return f"{ssh_dir(user)}/known_hosts"


def trust_facts(inventory: Inventory, host: Host) -> list[FactQuery]:
    user = trust_user(inventory, host.name)
    return [
        query("ssh.pubkey", "pubkey", key_path(user, inventory.ssh_trust.key_type)),
        query("ssh.authorized_keys", "file", authorized_keys(user)),
        query("ssh.known_hosts", "file", known_hosts(user)),
        query("ssh.user", "whoami", user),
        query("ssh.modes", "stat", ssh_dir(user), authorized_keys(user)),
        query("ssh.host_keys", "sshd_host_keys"),
    ]


def proof_facts(inventory: Inventory, host: Host) -> list[FactQuery]:
    """What proving the trust reads: the trust facts, and the names /etc/hosts gives."""
    return trust_facts(inventory, host) + [query("hosts.etc_hosts", "file", "/etc/hosts")]


@dataclass(frozen=True)
class TrustState:
    """What one host has now, read from its facts."""

    pubkey: str | None
    authorized_keys: str
    known_hosts: str
    host_keys: tuple[str, ...]
    modes_ok: bool

    @classmethod
    def from_facts(cls, f: Facts) -> TrustState:
        pub = f["ssh.pubkey"]
        user = f["ssh.user"].output.split(" ")[0].strip()
        modes = f["ssh.modes"].lines
        return cls(
            pubkey=pub.lines[0].strip() if pub.ok and pub.lines else None,
            authorized_keys=f["ssh.authorized_keys"].output if f["ssh.authorized_keys"].ok else "",
            known_hosts=f["ssh.known_hosts"].output if f["ssh.known_hosts"].ok else "",
            host_keys=tuple(line for line in f["ssh.host_keys"].lines if key_identity(line)),
            modes_ok=[" ".join(m.split()[:2]) for m in modes] == [f"700 {user}", f"600 {user}"],
        )


def states_of(facts: Mapping[str, Facts]) -> dict[str, TrustState]:
    return {h: TrustState.from_facts(f) for h, f in facts.items()}


class _TrustStep(Step):
    """What the three steps share: the [ssh_trust] hosts, and the facts of their trust."""

    phase = PHASE
    topic = "ssh."

    def hosts(self, inventory: Inventory) -> list[str]:
        return list(inventory.ssh_trust.hosts)

    def facts(self, inventory: Inventory, host: Host) -> list[FactQuery]:
        return trust_facts(inventory, host)


# -- ssh-keys ------------------------------------------------------------------

class SshKeys(_TrustStep):
    """A key pair on every trust host that has none."""

    name = "ssh-keys"

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, HostPlan]:
        key_type = inventory.ssh_trust.key_type
        return {h: HostPlan([Change(f"generate {key_type} key pair {key_path(trust_user(inventory, h), key_type)}")]
                            if s.pubkey is None else [])
                for h, s in states_of(facts).items()}

    def apply_host(self, ctx: HostContext, plan: HostPlan) -> Outcome:
        if plan.empty:
            return Outcome.unchanged()
        inventory = ctx.session.inventory
        ctx.run_script(SCRIPT, "keygen", inventory.ssh_trust.key_type, become=trust_user(inventory, ctx.host.name))
        return Outcome.changed("key generated")


# -- ssh-trust -----------------------------------------------------------------

@dataclass
class TrustPlan(HostPlan):
    files: dict[str, str] = field(default_factory=dict)  # path → wanted content, where it differs
    fix_modes: bool = False


def pinned_peer_keys(known_hosts: str, cluster: str) -> dict[str, list[str]]:
    """name → 'type blob' keys in the cluster's known_hosts block."""
    keys: dict[str, list[str]] = {}
    for line in (extract_block(known_hosts, f"peers {cluster}") or "").splitlines():
        fields = line.split()
        if len(fields) >= 3:
            keys.setdefault(fields[0].split(",")[0], []).append(f"{fields[1]} {fields[2]}")
    return keys


def decide_trust(inventory: Inventory, states: dict[str, TrustState]) -> dict[str, TrustPlan]:
    """What each trust host needs: missing authorized keys, peer host keys, modes (pure).

    ``states`` are those of every trust host that answered; a host that did
    not keeps, on every node, the entries the block already had for it.
    """
    trust = [h for h in inventory.ssh_trust.hosts if h in states]
    absent = [h for h in inventory.ssh_trust.hosts if h not in states]
    pubkeys = [states[h].pubkey for h in trust if states[h].pubkey]
    pending = [h for h in trust if states[h].pubkey is None]
    plans = {}
    for name in trust:
        state = states[name]
        peers = {h: (inventory.hosts[h].address, list(states[h].host_keys)) for h in trust}
        kept = pinned_peer_keys(state.known_hosts, inventory.cluster.name)
        peers.update({h: (inventory.hosts[h].address, kept.get(h, [])) for h in absent})
        peers = {h: peers[h] for h in inventory.ssh_trust.hosts if h in peers}
        user = trust_user(inventory, name)
        wanted = {authorized_keys(user): authorized_keys_merge(state.authorized_keys, pubkeys),
                  known_hosts(user): render_known_hosts(state.known_hosts, inventory.cluster.name, peers)}
        now = {authorized_keys(user): state.authorized_keys, known_hosts(user): state.known_hosts}
        plan = TrustPlan(files={p: c for p, c in wanted.items() if c != now[p]}, fix_modes=not state.modes_ok)
        plan.changes = [file_change(path, now[path], content, f"update {path}") for path, content in plan.files.items()]
        if plan.fix_modes:
            plan.changes.append(Change(f"set {ssh_dir(user)} to 700 and authorized_keys to 600, owned by {user}"))
        if pending:
            plan.notes.append(f"and the keys of {', '.join(pending)}, generated by ssh-keys first")
        plans[name] = plan
    return plans


class SshTrust(_TrustStep):
    """authorized_keys and known_hosts on every trust host, from every trust host's keys."""

    name = PHASE

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, TrustPlan]:
        return decide_trust(inventory, states_of(facts))

    def apply_host(self, ctx: HostContext, plan: TrustPlan) -> Outcome:
        user = trust_user(ctx.session.inventory, ctx.host.name)
        done = []
        for path, content in plan.files.items():
            ctx.write_file(path, content, mode="600", owner=user, group="@", dir_mode="700", become=True)
            done.append(path.rsplit("/", 1)[1])
        if plan.fix_modes:
            ctx.run_script(SCRIPT, "fix-modes", become=user)
            done.append("modes fixed")
        return Outcome.changed(", ".join(done)) if done else Outcome.unchanged()


# -- verify-ssh ----------------------------------------------------------------

@dataclass
class VerifyMatrix:
    """source → target → None when the pair is proven, else why not."""

    hosts: list[str]
    results: dict[str, dict[str, str | None]]
    logins: int = 0  # real node-to-node logins made for the proof
    outcomes: HostResults = field(default_factory=HostResults)

    @property
    def failed_pairs(self) -> list[tuple[str, str, str]]:
        return [(s, t, err) for s, row in self.results.items() for t, err in row.items() if err is not None]

    @property
    def ok(self) -> bool:
        return not self.failed_pairs and bool(self.results)


def rotated_targets(hosts: list[str], source: str) -> list[str]:
    """The other hosts, starting after ``source``, so that all sources don't hit one target at once."""
    i = hosts.index(source)
    return hosts[i + 1:] + hosts[:i]


@dataclass(frozen=True)
class ProofIndex:
    """Each trust host's files read once into sets, for the N×N pair proof: judging a pair is then a few
    set lookups (parsing both ends' files for every pair made the proof cubic in the host count)."""

    key: dict[str, str | None]  # host → the identity of its public key
    authorized: dict[str, frozenset[str]]  # host → the key identities its authorized_keys admits
    pinned: dict[str, dict[str, frozenset[str]]]  # host → peer → the host key identities its known_hosts pins
    served: dict[str, frozenset[str]]  # host → the identities of the host keys its sshd serves

    @classmethod
    def of(cls, states: dict[str, TrustState], cluster: str) -> ProofIndex:
        return cls(
            key={h: key_identity(s.pubkey) if s.pubkey is not None else None for h, s in states.items()},
            authorized={h: frozenset(key_identity(line) for line in s.authorized_keys.splitlines())
                        for h, s in states.items()},
            pinned={h: {peer: frozenset(map(key_identity, keys))
                        for peer, keys in pinned_peer_keys(s.known_hosts, cluster).items()}
                    for h, s in states.items()},
            served={h: frozenset(map(key_identity, s.host_keys)) for h, s in states.items()},
        )


def pair_problem(inventory: Inventory, source: str, target: str, index: ProofIndex,
                 resolved: dict[str, dict[str, str]]) -> str | None:
    """Why ``source`` could not log in to ``target`` by name, judged from their files alone (pure)."""
    key = index.key[source]
    if key is None:
        return f"{source} has no key pair"
    if key not in index.authorized[target]:
        return f"{target}'s authorized_keys lacks {source}'s key"
    served = index.served[target]
    if not served or not served <= index.pinned[source].get(target, frozenset()):
        return f"{source}'s known_hosts does not pin the host keys {target}'s sshd serves"
    address = inventory.hosts[target].static_address or inventory.hosts[target].address
    if resolved.get(source, {}).get(target) != address:
        return f"{target} does not resolve to {address} in {source}'s /etc/hosts"
    return None


def login_pairs(hosts: list[str], mode: str, concerned: set[str] | None = None) -> dict[str, list[str]]:
    """source → the targets it really logs in to: the next host (a ring), or all of them (pure).

    The ring makes every host a source once and a target once, so each sshd,
    each private key and each known_hosts is exercised with N logins in all.
    With ``concerned`` (the hosts a --hosts run changes) only pairs with one
    of them at either end are kept.
    """
    if len(hosts) < 2:
        return {}
    if mode == "full":
        pairs = {h: rotated_targets(hosts, h) for h in hosts}
    else:
        pairs = {h: [hosts[(i + 1) % len(hosts)]] for i, h in enumerate(hosts)}
    if concerned is not None:
        pairs = {s: [t for t in ts if s in concerned or t in concerned] for s, ts in pairs.items()}
    return {s: ts for s, ts in pairs.items() if ts}


def parse_check_output(output: str, targets: list[str]) -> dict[str, str | None]:
    """target → None when its login worked, else the error, from ssh_trust.sh check's lines (pure)."""
    row: dict[str, str | None] = {}
    for line in output.splitlines():
        parts = line.split(" ", 2)
        if len(parts) >= 2 and "@" in parts[0]:
            target = parts[0].split("@", 1)[1]
            row[target] = None if parts[1] == "0" else (parts[2] if len(parts) > 2 and parts[2] else f"exit {parts[1]}")
    for t in targets:
        row.setdefault(t, "no answer")
    return row


class SshVerify(_TrustStep):
    """Proof that every trust host logs in to every other by name without a prompt.

    ``ring`` (the default) proves each pair from the files of both ends and
    logs in for real along a ring; ``full`` logs in for every pair. Runs when
    this run changed trust or hosts files, or when asked (``verify``).
    """

    name = "verify-ssh"

    def __init__(self, mode: str = "ring", always: bool = False):
        self.mode, self.always = mode, always

    def facts(self, inventory: Inventory, host: Host) -> list[FactQuery]:
        return proof_facts(inventory, host)

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, HostPlan]:
        return {h: HostPlan() for h in facts}

    def check(self, inventory: Inventory, changing: Mapping[str, set[str]]) -> str:
        hosts = self.hosts(inventory)
        if not (self.always or changing.get(PHASE) or changing.get("hosts")):
            return "not run: trust and /etc/hosts stay as they are (--verify runs it)"
        how = "logs in along a ring, every other pair proven from both ends' files" if self.mode == "ring" \
            else "logs in to every other"
        return f"each of {len(hosts)} host(s) {how}, by name, without a prompt"

    def apply(self, run: StepRun, plans: dict[str, HostPlan]) -> HostResults:
        if not (self.always or run.verify or run.changed_in(PHASE, "hosts")):
            return HostResults()
        matrix = verify(run, self.mode)
        run.outputs[self.name] = matrix
        return matrix.outcomes


def verify(run: StepRun, mode: str = "ring") -> VerifyMatrix:
    """Prove trust among the live trust hosts; each host with an unproven pair as source fails."""
    session = run.session
    inventory = session.inventory
    hosts = session.live_hosts(inventory.ssh_trust.hosts)
    facts = session.gather("verify-ssh", hosts, lambda h: proof_facts(inventory, h))
    hosts = [h for h in hosts if h in facts]
    states = states_of(facts)
    resolved = {h: parse_hosts_block(f["hosts.etc_hosts"].output, inventory.cluster.name) for h, f in facts.items()}
    # A --hosts run proves the pairs it could have changed: those with a changed host at either end.
    concerned = set(session.targets(hosts)) if session.limited else None
    pairs = login_pairs(hosts, mode, concerned)
    users = {h: trust_user(inventory, h) for h in hosts}
    index = ProofIndex.of(states, inventory.cluster.name)
    results: dict[str, dict[str, str | None]] = {
        s: {t: pair_problem(inventory, s, t, index, resolved) for t in rotated_targets(hosts, s)
            if concerned is None or s in concerned or t in concerned} for s in hosts}
    results = {s: row for s, row in results.items() if row}

    def login(ctx: HostContext) -> Outcome:
        source = ctx.host.name
        targets = [t for t in pairs.get(source, []) if results[source][t] is None]
        if targets:
            # Each login's result is a line of its own; the script exits non-zero only when it did not run.
            out = ctx.run_script(SCRIPT, "check", CHECK_PARALLEL, NODE_KEX, *(f"{users[t]}@{t}" for t in targets),
                                 become=users[source])
            results[source].update(parse_check_output(out.stdout, targets))
        bad = [t for t, err in results[source].items() if err]
        if bad:
            return Outcome(State.FAILED, f"cannot log in to {', '.join(bad)}: {results[source][bad[0]]}")
        proven = "logged in to" if mode == "full" else f"proven for {len(hosts) - 1} peers, logged in to"
        return Outcome.ok(f"{proven} {', '.join(targets) or 'none'}")

    outcomes = session.for_each("verify-ssh", list(results), login, changes_host=False)
    return VerifyMatrix(hosts, {h: results[h] for h in hosts if h in outcomes},
                        sum(len(v) for v in pairs.values()), outcomes)


def steps(verify_mode: str | None = "ring") -> list[Step]:
    """ssh-trust's steps; ``verify_mode`` None leaves the proof out."""
    chosen: list[Step] = [SshKeys(), SshTrust()]
    if verify_mode:
        chosen.append(SshVerify(verify_mode, always=True))
    return chosen
