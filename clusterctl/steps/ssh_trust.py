"""The runbook's step 2: passwordless SSH among all nodes, done right.

Instead of relaying one authorized_keys file node1 → node2 → … → back, every
node's key is collected at once and merged into every node's authorized_keys,
every node learns the others' host keys, and the result is proven by having
every node SSH to every other one with BatchMode and strict host-key checks.
Private keys never leave their node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.facts import Fact
from ..core.host_receive import NODE_KEX_OPTION
from ..core.session import HostContext, Outcome, Session
from ..events import State
from ..inventory import Host, Inventory
from ..plan import Change, file_change
from ..render.managed_block import extract_block
from ..render.ssh_keys import authorized_keys_merge, key_identity, render_known_hosts

STEP = "ssh-trust"
VERIFY_STEP = "verify-ssh"
VERIFY_PARALLEL = 4  # per source node; rotation keeps each target under sshd's MaxStartups


def key_path(key_type: str) -> str:
    return f"~/.ssh/id_{key_type}"


def facts(host: Host, key_type: str) -> dict[str, str]:
    key = key_path(key_type)
    return {
        "ssh_trust.pubkey": f"test -f {key} && {{ cat {key}.pub || ssh-keygen -y -f {key}; }}",
        "ssh_trust.authorized_keys": "cat ~/.ssh/authorized_keys",
        "ssh_trust.known_hosts": "cat ~/.ssh/known_hosts",
        "ssh_trust.modes": "id -un; stat -c '%a %U' ~/.ssh ~/.ssh/authorized_keys",
        # The keys sshd serves, not every key file lying in /etc/ssh: pinning one it
        # doesn't serve makes OpenSSH's UpdateHostKeys prune it again after each run.
        "ssh_trust.host_keys": ("keys=$( (sshd -T || /usr/sbin/sshd -T) 2>/dev/null | awk '$1 == \"hostkey\" {print $2}'); "
                                "if [ -n \"$keys\" ]; then for k in $keys; do cat \"$k.pub\"; done; "
                                "else cat /etc/ssh/ssh_host_*_key.pub; fi"),
    }


@dataclass
class HostState:
    """What one host has now, read from its facts."""

    pubkey: str | None
    authorized_keys: str
    known_hosts: str
    host_keys: list[str]
    modes_ok: bool

    @classmethod
    def from_facts(cls, f: dict[str, Fact]) -> HostState:
        pub = f["ssh_trust.pubkey"]
        modes = f["ssh_trust.modes"].lines
        user = modes[0] if modes else ""
        return cls(
            pubkey=pub.lines[0].strip() if pub.ok and pub.lines else None,
            authorized_keys=f["ssh_trust.authorized_keys"].output,
            known_hosts=f["ssh_trust.known_hosts"].output,
            host_keys=[line for line in f["ssh_trust.host_keys"].lines if key_identity(line)],
            modes_ok=modes[1:] == [f"700 {user}", f"600 {user}"],
        )


@dataclass
class TrustPlan:
    keygen: list[str] = field(default_factory=list)
    files: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # host → path → (before, after)
    fix_modes: list[str] = field(default_factory=list)

    def changes(self, key_type: str) -> dict[str, list[Change]]:
        out: dict[str, list[Change]] = {}
        for host in self.files:
            changes = out.setdefault(host, [])
            if host in self.keygen:
                changes.append(Change(f"generate {key_type} key pair {key_path(key_type)}"))
            for path, (before, after) in self.files[host].items():
                change = file_change(path, before, after, f"update {path}")
                if change:
                    changes.append(change)
            if host in self.fix_modes:
                changes.append(Change("set ~/.ssh to 700 and authorized_keys to 600, owned by the user"))
        return out


def decide(inventory: Inventory, states: dict[str, HostState]) -> TrustPlan:
    """What each trust host needs: a key, missing authorized keys, peer host keys, modes (pure)."""
    trust = [h for h in inventory.ssh_trust.hosts if h in states]
    absent = [h for h in inventory.ssh_trust.hosts if h not in states]
    pubkeys = [states[h].pubkey for h in trust if states[h].pubkey]
    plan = TrustPlan()
    for name in trust:
        state = states[name]
        peers = {h: (inventory.hosts[h].address, states[h].host_keys) for h in trust}
        # A host we could not ask this run keeps the entries the block already had for it.
        kept = pinned_peer_keys(state.known_hosts, inventory.cluster.name)
        peers.update({h: (inventory.hosts[h].address, kept.get(h, [])) for h in absent})
        peers = {h: peers[h] for h in inventory.ssh_trust.hosts if h in peers}
        if state.pubkey is None:
            plan.keygen.append(name)
        plan.files[name] = {
            "~/.ssh/authorized_keys": (state.authorized_keys,
                                       authorized_keys_merge(state.authorized_keys, pubkeys)),
            "~/.ssh/known_hosts": (state.known_hosts,
                                   render_known_hosts(state.known_hosts, inventory.cluster.name, peers)),
        }
        if not state.modes_ok:
            plan.fix_modes.append(name)
    return plan


def pinned_peer_keys(known_hosts: str, cluster: str) -> dict[str, list[str]]:
    """name → 'type blob' keys in the cluster's known_hosts block."""
    keys: dict[str, list[str]] = {}
    for line in (extract_block(known_hosts, f"peers {cluster}") or "").splitlines():
        fields = line.split()
        if len(fields) >= 3:
            keys.setdefault(fields[0].split(",")[0], []).append(f"{fields[1]} {fields[2]}")
    return keys


def plan(inventory: Inventory, gathered: dict[str, dict[str, Fact]]) -> dict[str, list[Change]]:
    """Per host: the changes ssh-trust would make now (keys generated this run are not yet known)."""
    states = {h: HostState.from_facts(f) for h, f in gathered.items()}
    return decide(inventory, states).changes(inventory.ssh_trust.key_type)


def gather(session: Session) -> dict[str, HostState]:
    key_type = session.inventory.ssh_trust.key_type
    gathered = session.gather(STEP, session.inventory.ssh_trust.hosts, lambda h: facts(h, key_type))
    return {h: HostState.from_facts(f) for h, f in gathered.items()}


def run(session: Session, *, verify_pairs: bool = True) -> VerifyMatrix | None:
    """Establish trust among the ssh_trust hosts; return the verification matrix."""
    inventory = session.inventory
    key_type = inventory.ssh_trust.key_type
    states = gather(session)
    generated = set(decide(inventory, states).keygen)
    if generated:
        def keygen(ctx: HostContext) -> Outcome:
            bits = " -b 4096" if key_type == "rsa" else ""
            ctx.run(f"umask 077 && mkdir -p ~/.ssh && ssh-keygen -q -t {key_type}{bits} -N '' "
                    f"-C \"$(id -un)@$(hostname)\" -f {key_path(key_type)}")
            session.forget_facts(ctx.host.name)
            return Outcome.changed("key generated")

        session.for_each(STEP, sorted(generated), keygen, report=False)
        states = gather(session)
    final = decide(inventory, states)

    def apply(ctx: HostContext) -> Outcome:
        name = ctx.host.name
        done = ["key generated"] if name in generated else []
        for path, (before, after) in final.files[name].items():
            if before != after:
                ctx.write_file(path, after, mode="600")
                added = len(after.splitlines()) - len(before.splitlines())
                done.append(f"{path.rsplit('/', 1)[1]} +{added}")
        if name in final.fix_modes:
            ctx.run("chmod 700 ~/.ssh && chmod 600 ~/.ssh/authorized_keys && "
                    "chown \"$(id -un)\" ~/.ssh ~/.ssh/authorized_keys")
            done.append("modes fixed")
        if not done:
            return Outcome.unchanged()
        session.forget_facts(name)
        return Outcome.changed(", ".join(done))

    session.for_each(STEP, list(final.files), apply)
    return verify(session) if verify_pairs else None


@dataclass
class VerifyMatrix:
    """source → target → None when SSH worked, else the error it gave."""

    hosts: list[str]
    results: dict[str, dict[str, str | None]]

    @property
    def failed_pairs(self) -> list[tuple[str, str, str]]:
        return [(s, t, err) for s, row in self.results.items() for t, err in row.items() if err is not None]

    @property
    def ok(self) -> bool:
        return not self.failed_pairs and all(len(row) == len(self.hosts) - 1 for row in self.results.values())


def verify_script(targets: list[str]) -> str:
    """Shell for one source node: SSH to each target by name, a few at a time, print 'target rc error'."""
    # The check is of authentication and host keys, which the key exchange does not change;
    # curve25519 first costs a third of OpenSSH 9's default per connection, N×N times.
    probe = ("out=$(ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5 "
             f"{NODE_KEX_OPTION} \"$1\" true 2>&1); "
             "echo \"$1 $? $(printf %s \"$out\" | tail -n 1)\"")
    return (f"printf '%s\\n' {' '.join(targets)} | "
            f"xargs -P {VERIFY_PARALLEL} -n 1 sh -c '{probe}' _")


def rotated_targets(hosts: list[str], source: str) -> list[str]:
    """The other hosts, starting after ``source``, so that all sources don't hit one target at once."""
    i = hosts.index(source)
    return hosts[i + 1:] + hosts[:i]


def verify(session: Session) -> VerifyMatrix:
    """Every trust host SSHes to every other one by name; nothing prompts or the pair fails."""
    inventory = session.inventory
    hosts = session.live_hosts(inventory.ssh_trust.hosts)

    def probe(ctx: HostContext) -> Outcome:
        targets = rotated_targets(hosts, ctx.host.name)
        users = {t: inventory.hosts[t].user for t in targets}
        result = ctx.run(verify_script([f"{users[t]}@{t}" for t in targets]), check=False)
        row: dict[str, str | None] = {}
        for line in result.stdout.splitlines():
            parts = line.split(" ", 2)
            if len(parts) >= 2 and "@" in parts[0]:
                target = parts[0].split("@", 1)[1]
                row[target] = None if parts[1] == "0" else (parts[2] if len(parts) > 2 else f"exit {parts[1]}")
        for t in targets:
            row.setdefault(t, "no answer")
        bad = [t for t, err in row.items() if err]
        if bad:
            return Outcome(State.FAILED, f"cannot reach {', '.join(bad)}", row)
        return Outcome.ok(f"reaches {len(targets)} peers", row)

    outcomes = session.for_each(VERIFY_STEP, hosts, probe)
    results = {name: o.data for name, o in outcomes.items()}
    return VerifyMatrix([h for h in hosts if h in results], results)

