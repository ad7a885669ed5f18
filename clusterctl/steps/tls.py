"""TLS on the ensemble: each server's certificate (``tls-certs``) and the rolls that move a live ensemble from
one TLS phase to the next (``tls-roll``).

``tls-certs`` runs after the install and before the servers start: a server
whose certificate is missing, expiring (fewer than [tls] renew_days left),
from another CA or not naming its host gets a new private key made on its
node and a certificate the cluster's CA signs from the node's request; the
key never leaves the node. A renewed certificate is read again by the
quorum without a restart (``sslQuorumReloadCertFiles``), and by the client
port of a server that runs 3.8.5 or later with ``client.certReload``; an
older release's client port reads it at start only, so such a server is
marked as needing a restart and ``apply``'s roll restarts it.

``tls-roll`` runs after ``apply``'s roll: while some server does not run the
TLS phase [tls] asks for, it rolls the ensemble one phase further (see
:mod:`clusterctl.tls.phases`), one server at a time, followers first and the
leader last, each back in sync before the next; a server that does not
come back is put back to its previous phase by itself and the run stops
there. Each server's phase is read from its node, so a run stopped half
way goes on from where it was.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from importlib import resources
from typing import Mapping

from ..core.session import HostContext, HostResults, Outcome
from ..inventory import Inventory
from ..plan import Change
from ..render.zoo_cfg import (client_address, parse_client_addresses, render_zoo_cfg, server_line, tls_dir,
                              truststore_path)
from ..tls.certs import CertInfo, first_pem, key_ids, parse, reissue_reason, wanted_names
from ..tls.phases import TlsState, marker_text, rolls_left, target_state
from ..tls.reload import client_reloads_certificate
from ..zk import install as zk_install
from ..zk.restart import targets_in_rolling_order
from ..zk.server import java_home
from ..zk.status import probe
from .base import Facts, HostPlan, StepRun
from .zookeeper import _ZkStep

CERTS_STEP = "tls-certs"
ROLL_STEP = "tls-roll"
SCRIPT = "tls.sh"
KEY_EXPORTER = "tls_key_pem.java"  # a keytool-made key as PEM, on a node without openssl (see tls.sh)


def cert_names(inventory: Inventory, host: str) -> tuple[str, ...]:
    h = inventory.host(host)
    return wanted_names(host, h.static_address, h.address)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass
class CertPlan(HostPlan):
    issue: str = ""  # why a new key and certificate are made, "" when the one it has is good
    trust: bool = False  # its truststore is written
    running: bool = False  # its server runs with a TLS client port (which may need a restart for a new certificate)
    reloads: bool = False  # that client port reads a renewed certificate by itself (client.certReload)


def stores_needed(inventory: Inventory, states: Mapping[str, zk_install.ServerState]) -> bool:
    """Some server runs, or is to run, with TLS stores."""
    tls = inventory.zookeeper.tls
    return target_state(tls.quorum, tls.client).stores or any(
        s.written_tls.stores or s.running_tls.stores for s in states.values())


class ZkTlsCerts(_ZkStep):
    """Every server's key (made on its node) and certificate (signed here), where TLS is or will be on."""

    name = CERTS_STEP

    def __init__(self, hosts=None, renew: bool = False):
        super().__init__(hosts)
        self.renew = renew  # tls renew: a new key and certificate even where the one it has is good

    def applies(self, inventory: Inventory) -> bool:
        return inventory.zookeeper is not None

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, CertPlan]:
        spec, tls = inventory.zookeeper, inventory.zookeeper.tls
        states = {h: zk_install.ServerState.from_facts(f, spec) for h, f in facts.items()}
        if not stores_needed(inventory, states):
            return {h: CertPlan() for h in states}
        from ..tls import ca as cluster_ca  # cryptography: loaded by the runs that need it
        if cluster_ca.rotation_under_way(inventory):
            # Certificates of the CA on its way out, or a truststore of it alone, would undo the rotation.
            why = (f"a new CA is replacing the cluster's ({cluster_ca.next_paths(inventory)[0]}): run clusterctl "
                   f"tls rotate-ca to finish the rotation first")
            return {h: CertPlan(problem=why) for h in states}
        ca_pem = cluster_ca.existing_ca_pem(inventory)
        ca_info = parse(ca_pem) if ca_pem else None
        plans = {}
        for host, state in states.items():
            # A server without a TLS client port needs no restart for its certificate: the quorum reloads it
            # (sslQuorumReloadCertFiles), and one that does not use its stores yet starts with them in a TLS roll.
            running = state.server is not None and state.running_tls.client
            plan = CertPlan(running=running, reloads=running and client_reloads_certificate(
                state.link_target, state.zoo_cfg, state.server.stale))
            names = cert_names(inventory, host)
            current = parse(first_pem(state.tls_cert)) if state.tls_cert and first_pem(state.tls_cert) else None
            if ca_info is None and current is not None:
                # A new CA now would give every server a certificate the others do not trust yet: the quorum
                # would split. The CA that signed this one belongs on this controller.
                where = cluster_ca.tls_dir(inventory) if tls.managed else tls.ca_cert
                plan.problem = (f"{host} holds a certificate of a CA this controller does not have ({where} is "
                                f"missing): copy that directory from the controller that turned TLS on; making a "
                                f"new CA would split the quorum")
                plans[host] = plan
                continue
            if ca_info is not None and current is not None and current.issuer_key_id != ca_info.key_id and \
                    state.tls_trust and ca_info.key_id not in key_ids(state.tls_trust):
                # It neither trusts nor presents this controller's CA: the CA was rotated (or changed) elsewhere.
                # Certificates of this one would be distrusted by every server not yet given them.
                plan.problem = (f"{host} trusts and presents another CA than this controller's "
                                f"({cluster_ca.tls_dir(inventory) if tls.managed else tls.ca_cert}): was it rotated "
                                f"from another controller? copy that controller's directory here; issuing from "
                                f"this one would split the quorum")
                plans[host] = plan
                continue
            if ca_info is None:
                plan.issue = "no certificate yet"
            else:
                plan.issue = reissue_reason(current, names=names, ca_key_id=ca_info.key_id, now=_now(),
                                            renew_days=tls.renew_days) or ("renewal asked for" if self.renew else "")
            plan.trust = ca_pem is None or state.tls_trust != ca_pem
            if plan.issue:
                plan.changes.append(Change(f"make a new private key on {host} ({tls_dir(spec)}/keystore.pem, "
                                           f"{spec.user}'s alone) and have the cluster's CA sign its request: "
                                           f"{plan.issue}; valid {tls.days} days, naming {', '.join(names)}"))
                if plan.running and plan.reloads:
                    plan.notes.append("the client port reads the new certificate by itself (client.certReload): "
                                      "no restart")
                elif plan.running:
                    plan.notes.append("the client port reads the new certificate at its next start: a rolling "
                                      "restart follows (the quorum reloads it by itself)")
            if plan.trust:
                plan.changes.append(Change(f"write {truststore_path(spec)} (the cluster's CA)"))
            if current is not None and not plan.issue:
                plan.notes.append(f"certificate valid until {current.not_after:%Y-%m-%d} "
                                  f"({current.days_left(_now()):.0f} days)")
            if ca_pem is None:
                where = cluster_ca.tls_dir(inventory) if tls.managed else tls.ca_cert
                plan.notes.append(f"the cluster's CA is made at the first run, on this controller in {where}"
                                  if tls.managed else f"signed by the CA of {where}")
            plans[host] = plan
        return plans

    def apply(self, run: StepRun, plans: dict[str, CertPlan]) -> HostResults:
        from ..tls import ca as cluster_ca
        inventory = run.session.inventory
        issuing = any(p.changes for p in plans.values())
        if issuing or (inventory.zookeeper.tls.enabled and cluster_ca.existing_client_files(inventory) is None):
            self.authority = cluster_ca.authority(inventory)  # made here, the first time
            # The controller's own client certificate (zk status, reconfig, smoke over TLS), renewed with the servers'.
            cluster_ca.client_files(inventory, self.authority)
        return super().apply(run, plans)

    def apply_host(self, ctx: HostContext, plan: CertPlan) -> Outcome:
        if not plan.changes:
            return Outcome.unchanged(plan.notes[0] if plan.notes else "")
        inventory = ctx.session.inventory
        spec, host = inventory.zookeeper, ctx.host.name
        ca, done = self.authority, []
        if plan.trust:
            write_truststore(ctx, ca.pem)
            done.append("truststore")
        if plan.issue:
            info = issue_certificate(ctx, ca)
            done.append(f"certificate until {info.not_after:%Y-%m-%d} ({plan.issue})")
            if plan.running and not plan.reloads:
                # The client port reads its certificate at start: the stamp says the server is due a restart.
                ctx.write_file(zk_install.stamp_path(spec), f"the TLS certificate (issued {_now():%Y-%m-%d})\n",
                               become=True)
        ctx.session.forget_facts(host, "zk.")
        return Outcome.changed(", ".join(done))


def write_truststore(ctx: HostContext, pem: str) -> None:
    """The server's truststore: the CA certificates ``pem`` holds."""
    spec = ctx.session.inventory.zookeeper
    ctx.write_file(truststore_path(spec), pem, mode="644", owner=spec.user, group=spec.group, dir_mode="700",
                   become=True)


def issue_certificate(ctx: HostContext, ca) -> CertInfo:
    """A new key made on the server's node and a certificate ``ca`` signs from its request, put in place."""
    inventory = ctx.session.inventory
    spec, host = inventory.zookeeper, ctx.host.name
    java = java_home(inventory)
    request = ctx.run_script(SCRIPT, "request", tls_dir(spec), host, spec.user, spec.group, java, become=True)
    signed = ca.sign(request.stdout, cert_names(inventory, host), spec.tls.days)
    exporter = resources.files("clusterctl.remote").joinpath(KEY_EXPORTER).read_bytes()
    ctx.run_script(SCRIPT, "install", tls_dir(spec), spec.user, spec.group, java, len(exporter),
                   payload=[exporter, (signed + ca.pem).encode()], become=True)
    return parse(signed)


def zookeeper_servers(session) -> list[str]:
    return list(session.inventory.zookeeper.hosts)


def addresses_to_change(spec, states: Mapping[str, zk_install.ServerState]) -> list[str]:
    """The members (by host) whose plaintext client address in the running membership is not [tls]'s (pure)."""
    took = [s for s in states.values() if s.took_part and s.dynamic]
    if not took:
        return []
    newest = max(took, key=lambda s: s.version)
    members = zk_install.running_members(dict(states))
    addresses = parse_client_addresses(newest.dynamic[1])
    wanted = client_address(spec)
    return [members[sid][0] for sid, address in sorted(addresses.items()) if address != wanted and sid in members]


def plaintext_count(facts: Facts) -> int | None:
    """How many other hosts' connections a server's plaintext client port holds now; None: not known."""
    fact = facts.get("zk.plaintext_clients")
    words = fact.output.split() if fact is not None and fact.ok else []
    return int(words[1]) if len(words) == 2 and words[1].isdigit() else None


def plaintext_clients(facts: Mapping[str, Facts]) -> dict[str, int]:
    """host → connections from other hosts to its plaintext client port now, where there are any (pure)."""
    counts = {host: plaintext_count(f) for host, f in facts.items()}
    return {host: n for host, n in counts.items() if n}


def bound_lines(facts: Facts) -> list[str]:
    """The local addresses the plaintext client port listens on, from a server's facts (none: closed)."""
    fact = facts.get("zk.bound")
    return fact.lines if fact is not None and fact.ok else []


def listens_as(bound: list[str], wanted: str) -> bool:
    """Whether a port listening on ``bound`` (ss's local addresses) listens as ``wanted`` says (pure)."""
    if not bound:
        return False
    def host(line: str) -> str:
        return line.rpartition(":")[0].strip("[]").removeprefix("::ffff:")
    hosts = {host(line) for line in bound}
    if wanted == "127.0.0.1":
        return hosts <= {"127.0.0.1", "::1"}
    return bool(hosts & {"*", "0.0.0.0", "::", ""})


def first_roll(inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, TlsState]:
    """host → the state the next TLS/SASL roll moves it to, for the servers it moves (pure)."""
    spec = inventory.zookeeper
    states = {h: zk_install.ServerState.from_facts(f, spec) for h, f in facts.items()}
    current = {h: s.running_tls for h, s in states.items() if s.took_part}
    rolls = rolls_left(current, target_state(spec.tls.quorum, spec.tls.client, spec.sasl.quorum))
    return rolls[0] if rolls else {}


@dataclass
class TlsRollPlan(HostPlan):
    now: TlsState | None = None


class ZkTlsRoll(_ZkStep):
    """The rolls that bring every server to the TLS phase [tls] asks for, one phase per roll."""

    name = ROLL_STEP
    phase = "zk-start"

    def __init__(self, timeout: float = 120.0, pause: float = 0.0, confirm=None, force: bool = False):
        super().__init__()
        self.timeout, self.pause, self.confirm = timeout, pause, confirm
        self.force = force  # close the plaintext port to other hosts even while some still use it

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, TlsRollPlan]:
        spec = inventory.zookeeper
        states = {h: zk_install.ServerState.from_facts(f, spec) for h, f in facts.items()}
        current = {h: s.running_tls for h, s in states.items() if s.took_part}
        target = target_state(spec.tls.quorum, spec.tls.client, spec.sasl.quorum)
        rolls = rolls_left(current, target)
        plans = {h: TlsRollPlan(now=current.get(h)) for h in states}
        readdress = addresses_to_change(spec, states)
        if readdress and client_address(spec) == "127.0.0.1" and not self.force:
            using = plaintext_clients(facts)
            if using:
                why = (f"{sum(using.values())} plaintext client connection(s) from other hosts "
                       f"({', '.join(f'{h}: {n}' for h, n in using.items())}) would be cut off by [tls] client = "
                       f"\"required\": move those clients to TLS (port {spec.tls.secure_client_port}) first, or "
                       f"run with --force")
                return {h: TlsRollPlan(problem=why) for h in states}
        if readdress:
            first = next(iter(plans))
            where = "loopback alone" if client_address(spec) == "127.0.0.1" else "every address"
            when = "after the rolls" if client_address(spec) == "127.0.0.1" else "before the rolls"
            plans[first].changes.append(Change(
                f"{when}: one reconfig (as the super user, over TLS) makes each server's plaintext client port "
                f"listen on {where} ({', '.join(readdress)}), then each server restarts to bind it, one at a "
                f"time, the leader last"))
        else:
            for host, f in facts.items():
                lines = bound_lines(f)
                if states[host].server is not None and not listens_as(lines, client_address(spec)):
                    plans[host].changes.append(Change(
                        f"restart to bind the plaintext client port on {client_address(spec)} "
                        f"({', '.join(lines) or 'closed'} now; one server at a time, the leader last)"))
        for i, moves in enumerate(rolls, 1):
            for host, wanted in moves.items():
                plans[host].changes.append(Change(
                    f"roll {i} of {len(rolls)}: restart into {wanted.describe()} (one server at a time, the "
                    f"leader last; put back to {current[host].short} if it does not serve)"))
                current[host] = wanted
        return plans

    def apply(self, run: StepRun, plans: dict[str, TlsRollPlan]) -> HostResults:
        if not any(p.changes for p in plans.values()):
            return HostResults()
        session = run.session
        spec = session.inventory.zookeeper
        results = HostResults()
        # Leaving "required", the plaintext port opens again while the TLS port (which the reconfig goes
        # through) is still open; entering it, once the rolls have opened the TLS port.
        leaving = client_address(spec) != "127.0.0.1"
        if leaving:
            results.update(self._readdress(session))
        if not session.failures:
            results.update(self._rolls(session))
        if not leaving and not session.failures:
            results.update(self._readdress(session))
        return results

    def _fresh_facts(self, session) -> dict[str, Facts]:
        for host in zookeeper_servers(session):
            session.forget_facts(host, "zk.")
        return self.gather(session)

    def _states(self, session) -> dict[str, zk_install.ServerState]:
        spec = session.inventory.zookeeper
        return {h: zk_install.ServerState.from_facts(f, spec) for h, f in self._fresh_facts(session).items()}

    def _rolls(self, session) -> HostResults:
        """Roll after roll until every server runs the target phase (or one is put back)."""
        from .upgrade import Switch, UpgradeResult, roll
        spec = session.inventory.zookeeper
        target = target_state(spec.tls.quorum, spec.tls.client, spec.sasl.quorum)
        results = HostResults()
        done = 0
        while True:
            now = self._states(session)
            current = {h: s.running_tls for h, s in now.items() if s.took_part}
            upcoming = rolls_left(current, target)
            if not upcoming:
                return results
            moves = upcoming[0]
            done += 1
            before = probe(session)
            order = [h for h in targets_in_rolling_order(session, before) if h in moves]
            label = f"TLS roll {done} ({len(upcoming)} left)"

            def forward(ctx: HostContext, moves=moves, now=now, current=current) -> str:
                host = ctx.host.name
                self._write_phase(ctx, now[host], current[host], moves[host])
                return f"{current[host].short} → {moves[host].short}"

            def back(ctx: HostContext, moves=moves, now=now, current=current) -> None:
                host = ctx.host.name
                self._write_phase(ctx, now[host], moves[host], current[host])

            result = roll(session, ROLL_STEP, order, Switch(label, forward, back), timeout=self.timeout,
                          pause=self.pause, confirm=self.confirm, result=UpgradeResult(order))
            results.update({h: Outcome.changed(f"{moves[h].short}") for h in result.upgraded})
            if len(result.upgraded) < len(order):
                return results

    def _readdress(self, session) -> HostResults:
        """The plaintext client port where [tls] client wants it: a reconfig, then a roll of the servers that
        do not listen there yet."""
        from ..zk.membership import readdress_clients
        from ..zk.restart import rolling_restart
        inventory = session.inventory
        spec = inventory.zookeeper
        states = self._states(session)
        if addresses_to_change(spec, states):
            members = zk_install.running_members(states)
            lines = [server_line(spec, host, sid, role == "observer") for sid, (host, role) in sorted(members.items())]
            serving = [s.host for s in probe(session).servers if s.serving]
            readdress_clients(inventory, serving, lines)
            session.reporter.note(serving[0] if serving else spec.hosts[0], ROLL_STEP,
                                  f"reconfig: plaintext client ports on {client_address(spec)}")
        wanted = client_address(spec)
        due = {}
        for host, facts in self._fresh_facts(session).items():
            lines = bound_lines(facts)
            if not listens_as(lines, wanted):
                due[host] = f"its plaintext client port is to listen on {wanted} ({', '.join(lines) or 'closed'} now)"
        if not due:
            return HostResults()
        result = rolling_restart(session, timeout=self.timeout, only=due, pause=self.pause, confirm=self.confirm,
                                 step=ROLL_STEP)
        out = HostResults()
        out.update({h: Outcome.changed(f"plaintext client port on {wanted}") for h in result.restarted})
        return out

    def _write_phase(self, ctx: HostContext, state: zk_install.ServerState, before: TlsState,
                     after: TlsState) -> None:
        """The marker first ("from before to after"), then zoo.cfg with ``after``'s settings."""
        inventory = ctx.session.inventory
        spec = inventory.zookeeper
        ctx.write_file(zk_install.tls_marker_path(spec), marker_text(before, after), mode="644", become=True)
        text = render_zoo_cfg(spec, inventory, ctx.host.name, tls=after,
                              dynamic_file=state.dynamic[0] if state.dynamic else None)
        owner, group, mode = zk_install.file_owner(spec, f"{spec.conf_dir}/zoo.cfg")
        ctx.write_file(f"{spec.conf_dir}/zoo.cfg", text, mode=mode, owner=owner, group=group, become=True)
        ctx.write_file(zk_install.stamp_path(spec), f"TLS: {after.describe()}\n", become=True)

