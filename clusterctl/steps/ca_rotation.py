"""``tls rotate-ca``: a new managed CA, moved to by rolls in which no two servers ever distrust each other.

The new CA is made on the controller beside the current one (``ca.next.crt``
and ``.key``); then, one roll per stage (see :mod:`clusterctl.tls.rotation`),
every server trusts both CAs, every server gets a certificate of the new CA
from a new key made on its node, every server trusts the new CA alone. Each
roll is apply's: one server at a time, followers first and the leader last,
the margin checked before each, each caught up before the next; a server that
does not serve after its change is put back to its previous stage by itself and
the run stops there. The controller's own client certificate moves to the new
CA once every server trusts it; at the end the new CA takes the current one's
place and the old one is kept in ``retired/``.

Progress is on the nodes (their truststore, certificate and the marker
``.clusterctl-ca``) and on the controller (``ca.next.*`` while under way), so
a stopped rotation goes on from where it stopped when run again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..core.session import HostContext, HostResults
from ..errors import UsageError
from ..inventory import Inventory
from ..plan import Change
from ..tls import rotation
from ..tls.certs import first_pem, key_ids, parse
from ..zk import install as zk_install
from .base import Facts, HostPlan, StepRun
from .rotation_rolls import Rotation, roll_through
from .tls import issue_certificate, write_truststore
from .zookeeper import _ZkStep

STEP = "tls-rotate-ca"


@dataclass
class RotationPlan(HostPlan):
    stage: int | None = None  # the stage it runs now


def _issuer(pem: str | None) -> str:
    leaf = first_pem(pem or "")
    return parse(leaf).issuer_key_id if leaf else ""


def server_stages(spec, states: Mapping[str, zk_install.ServerState], old: str,
                  new: str | None) -> dict[str, int | None]:
    """host → the rotation stage its server runs (None: its trust or certificate is in no stage) (pure)."""
    out = {}
    for host, state in states.items():
        written = rotation.stage_of(key_ids(state.tls_trust or ""), _issuer(state.tls_cert), old, new)
        out[host] = None if written is None else rotation.running_stage(written, state.ca_marker,
                                                                         state.restarted_since_ca_marker)
    return out


MOVES = {1: "add the new CA to its truststore (it still presents its old certificate)",
         2: "a new key on its node and a certificate of the new CA",
         3: "take the old CA out of its truststore"}  # what a roll to each stage does


class ZkCaRotation(_ZkStep):
    """Every server moved from the managed CA to a new one, trust both then switch, one stage per roll."""

    name = STEP
    phase = "zk-start"

    def __init__(self, timeout: float = 120.0, pause: float = 0.0, confirm=None):
        super().__init__()
        self.timeout, self.pause, self.confirm = timeout, pause, confirm

    def refusal(self, inventory: Inventory) -> UsageError | None:
        tls = inventory.zookeeper.tls if inventory.zookeeper else None
        if tls is None or not tls.enabled:
            return UsageError("[tls]: TLS is off in the inventory: there is no CA to rotate (turn TLS on with "
                              "[tls] and clusterctl apply)")
        if not tls.managed:
            return UsageError("[tls] ca: the CA is yours (cert and key paths), not clusterctl's: rotate it "
                              "yourself, or set ca = \"managed\" to have clusterctl keep one")
        return None

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, RotationPlan]:
        from ..tls import ca as cluster_ca
        spec = inventory.zookeeper
        states = {h: zk_install.ServerState.from_facts(f, spec) for h, f in facts.items()}
        old_pem = cluster_ca.existing_ca_pem(inventory)
        if old_pem is None:
            where = cluster_ca.tls_dir(inventory)
            why = (f"this controller has no CA of the cluster ({where}/ca.crt is missing): copy that directory "
                   f"from the controller that turned TLS on (a rotation starts from the CA the servers trust)")
            return {h: RotationPlan(problem=why) for h in states}
        next_pem = cluster_ca.existing_next_ca_pem(inventory)
        old, new = parse(old_pem).key_id, parse(next_pem).key_id if next_pem else None
        stages = server_stages(spec, states, old, new)
        plans = {h: RotationPlan(stage=stages[h]) for h in states}
        for host, stage in stages.items():
            if states[host].server is None:
                plans[host].problem = f"{host}'s server does not run: start it (clusterctl zk start) first"
            elif stage is None:
                plans[host].problem = (f"{host} trusts or presents a certificate of neither the cluster's CA nor "
                                       f"the new one: run clusterctl apply (or tls renew) to give it the "
                                       f"cluster's first")
        if any(p.problem for p in plans.values()):
            return plans
        first = next(iter(plans), None)
        if first is None:
            return plans
        if next_pem is None:
            plans[first].changes.append(Change(
                f"make a new CA on this controller ({cluster_ca.next_paths(inventory)[0]}, key mode 600); the "
                f"current one signs nothing more and is kept"))
        rolls = rotation.rolls_left(stages)
        current, switched = dict(stages), rotation.controller_presents_new(stages)
        for i, moves in enumerate(rolls, 1):
            if not switched and rotation.controller_presents_new(current):
                switched = True
                plans[first].changes.append(Change(f"before roll {i}: this controller's client certificate from "
                                                   f"the new CA (every server trusts it by then)"))
            for host, after in moves.items():
                plans[host].changes.append(Change(
                    f"roll {i} of {len(rolls)}: {MOVES[after]}, restart (one server at a time, "
                    f"the leader last; put back to stage {current[host]} if it does not serve)"))
            current.update(moves)
        plans[first].changes.append(Change(
            f"at the end: the new CA replaces the cluster's on this controller; the old one is kept in "
            f"{cluster_ca.retired_dir(inventory)}"))
        return plans

    def apply(self, run: StepRun, plans: dict[str, RotationPlan]) -> HostResults:
        if not any(p.changes for p in plans.values()):
            return HostResults()
        from ..tls import ca as cluster_ca
        session = run.session
        inventory = session.inventory
        old, new = cluster_ca.authority(inventory), cluster_ca.next_authority(inventory)
        # The controller trusts both from now on; its own certificate stays the old CA's until every server
        # trusts the new one (a resumed rotation may be past that already).
        moved = rotation.controller_presents_new({h: p.stage for h, p in plans.items() if p.stage is not None})
        cluster_ca.client_files(inventory, new if moved else old, trust=old.pem + new.pem)
        results, finished = self._rolls(session, old, new)
        if not finished or session.failures:
            return results
        cluster_ca.client_files(inventory, new)
        kept = cluster_ca.retire_current(inventory)
        hosts = list(plans)
        session.reporter.note(hosts[0], STEP, f"the new CA is the cluster's; the old one is kept in {kept}")
        return results

    def _rolls(self, session, old, new) -> tuple[HostResults, bool]:
        """Roll after roll until every server trusts the new CA alone (True), or one is put back or skipped."""
        from ..tls import ca as cluster_ca
        spec = session.inventory.zookeeper

        def before_roll(stages: dict[str, int]) -> None:
            if rotation.controller_presents_new(stages):
                cluster_ca.client_files(session.inventory, new, trust=old.pem + new.pem)

        return roll_through(self, session, Rotation(
            "CA rotation", lambda states: server_stages(spec, states, old.key_id, new.key_id),
            lambda ctx, before, after: self._put(ctx, before, after, old, new), rotation.STAGES.__getitem__,
            "its trust or certificate is in no stage of the rotation", before_roll=before_roll),
            timeout=self.timeout, pause=self.pause, confirm=self.confirm)

    def _put(self, ctx: HostContext, before: int, after: int, old, new) -> None:
        """The marker first ("from before to after"), then the truststore and certificate ``after`` has."""
        spec = ctx.session.inventory.zookeeper
        ctx.write_file(zk_install.ca_marker_path(spec), rotation.marker_text(before, after), mode="644",
                       become=True)
        has_old, has_new = rotation.trusts(after)
        write_truststore(ctx, (old.pem if has_old else "") + (new.pem if has_new else ""))
        if rotation.presents_new(after) != rotation.presents_new(before):
            issue_certificate(ctx, new if rotation.presents_new(after) else old)
