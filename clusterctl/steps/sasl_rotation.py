"""``sasl rotate``: a new SASL password for the quorum or a client user, rolled through the live ensemble.

The new password is made on the controller beside the current one
(``<file>.next``, mode 600); then, one roll per stage (see
:mod:`clusterctl.zk.sasl_rotation`), each server's JAAS file moves one stage
and the server restarts. Each roll is apply's: one server at a time,
followers first and the leader last, the margin checked before each, each
caught up before the next; a server that does not serve after its change is
put back to its previous stage by itself and the run stops there. At the end
the new password takes the current one's place on the controller.

Progress is on the nodes (each JAAS file's hash against each stage's render,
and the marker ``.clusterctl-sasl``) and on the controller (``.next`` while
under way), so a stopped rotation goes on from where it stopped when run again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..core.session import HostContext, HostResults
from ..errors import UsageError
from ..inventory import Inventory
from ..plan import Change
from ..render.jaas import SaslPasswords, jaas_path, render_jaas
from ..tls.phases import target_state
from ..tls.rotation import marker_text, rolls_left
from ..zk import install as zk_install
from ..zk import sasl
from ..zk.sasl_rotation import describe_move, last_stage, server_stage, stage_passwords, stage_renders
from .base import Facts, HostPlan, StepRun
from .rotation_rolls import Rotation, roll_through
from .zookeeper import _ZkStep

STEP = "sasl-rotate"
QUORUM = "quorum"  # the argument that names the quorum's password


@dataclass
class SaslRotationPlan(HostPlan):
    stage: int | None = None  # the stage it runs now


def whose(user: str | None) -> str:
    return "the quorum's" if user is None else f"{user}'s"


class ZkSaslRotation(_ZkStep):
    """Every server moved to a new SASL password of the quorum (``user`` None) or of a client user."""

    name = STEP
    phase = "zk-start"

    def __init__(self, user: str | None = None, timeout: float = 120.0, pause: float = 0.0, confirm=None):
        super().__init__()
        self.user, self.timeout, self.pause, self.confirm = user, timeout, pause, confirm

    def refusal(self, inventory: Inventory) -> UsageError | None:
        spec = inventory.zookeeper
        if spec is None or not spec.sasl.enabled:
            return UsageError("[sasl]: SASL is off in the inventory: there is no SASL password to rotate")
        if self.user is None and not spec.sasl.quorum:
            return UsageError("[sasl] quorum is off: the servers use no quorum password (turn it on with "
                              "quorum = true and clusterctl apply)")
        if self.user is not None and self.user not in sasl.client_users(inventory):
            listed = ", ".join(sasl.client_users(inventory)) or "none"
            return UsageError(f"{self.user!r} is not a SASL client user of {inventory.path} (the users the servers "
                              f"know: {listed}; {QUORUM!r} is the quorum's password)")
        other = [u for u in sasl.rotation_under_way(inventory) if u != self.user]
        if other:
            return UsageError(f"a rotation of {whose(other[0])} SASL password is under way "
                              f"({sasl.pending_path(inventory, other[0])}): run clusterctl sasl rotate "
                              f"{other[0] or QUORUM} to finish it first")
        if sasl.existing_passwords(inventory) is None:
            return UsageError("the SASL passwords are not made yet on this controller: run clusterctl apply first "
                              "(or copy the .sasl-* files from the controller that did)")
        return None

    def _renders(self, inventory: Inventory) -> tuple[SaslPasswords, SaslPasswords | None, list[str]]:
        current = sasl.existing_passwords(inventory)
        new = sasl.rotated_passwords(inventory, self.user, current)
        return current, new, stage_renders(current, new, self.user)

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, SaslRotationPlan]:
        spec = inventory.zookeeper
        states = {h: zk_install.ServerState.from_facts(f, spec) for h, f in facts.items()}
        _, new, renders = self._renders(inventory)
        target = target_state(spec.tls.quorum, spec.tls.client, spec.sasl.quorum)
        plans = {}
        for host, state in states.items():
            plan = plans[host] = SaslRotationPlan(stage=server_stage(
                state.jaas_sha256, renders, state.sasl_marker, state.restarted_since_sasl_marker))
            if state.server is None:
                plan.problem = f"{host}'s server does not run: start it (clusterctl zk start) first"
            elif state.running_tls != target:
                plan.problem = (f"{host} runs {state.running_tls.describe()}, not what the inventory asks: run "
                                f"clusterctl apply first (its TLS/SASL rolls)")
            elif plan.stage is None:
                plan.problem = (f"{host}'s {jaas_path(spec)} is in no stage of this rotation (another password, "
                                f"or changed by hand): " + ("run clusterctl apply first" if new is None else
                                                            "put back the file this rotation wrote, or run it again "
                                                            "after fixing it by hand"))
        if any(p.problem for p in plans.values()) or not plans:
            return plans
        first = next(iter(plans))
        if new is None:
            plans[first].changes.append(Change(
                f"make a new password for {whose(self.user)} SASL identity on this controller "
                f"({sasl.pending_path(inventory, self.user)}, mode 600; not shown)"))
        stages = {h: p.stage for h, p in plans.items()}
        rolls = rolls_left(stages, last_stage(self.user))
        for i, moves in enumerate(rolls, 1):
            for host, after in moves.items():
                plans[host].changes.append(Change(
                    f"roll {i} of {len(rolls)}: {describe_move(self.user, after)} (write {jaas_path(spec)}, not "
                    f"shown), restart (one server at a time, the leader last; put back to stage "
                    f"{after - 1} if it does not serve)"))
        plans[first].changes.append(Change(
            f"at the end: the new password replaces {sasl.password_path(inventory, self.user)} on this controller"))
        if self.user is not None:
            plans[first].notes.append(f"no overlap: until every server has restarted, {self.user} logs in with the "
                                      f"old password on some servers and the new one on the others")
        return plans

    def apply(self, run: StepRun, plans: dict[str, SaslRotationPlan]) -> HostResults:
        if not any(p.changes for p in plans.values()):
            return HostResults()
        session = run.session
        inventory = session.inventory
        current = sasl.existing_passwords(inventory)
        new = sasl.make_pending(inventory, self.user, current)
        results, finished = self._rolls(session, stage_passwords(current, new, self.user))
        if not finished or session.failures:
            return results
        sasl.finish_rotation(inventory, self.user)
        session.reporter.note(next(iter(plans)), STEP, f"{whose(self.user)} new SASL password is the kept one "
                                                       f"({sasl.password_path(inventory, self.user)})")
        return results

    def _rolls(self, session, passwords: list[SaslPasswords]) -> tuple[HostResults, bool]:
        """Roll after roll until every server is at the last stage (True), or one is put back or skipped."""
        renders = [render_jaas(p) for p in passwords]

        def stage_of(states) -> dict[str, int | None]:
            return {h: server_stage(s.jaas_sha256, renders, s.sasl_marker, s.restarted_since_sasl_marker)
                    for h, s in states.items()}

        return roll_through(self, session, Rotation(
            "SASL rotation", stage_of, lambda ctx, before, after: self._put(ctx, before, after, renders),
            lambda stage: describe_move(self.user, stage), "its JAAS file is in no stage of the rotation",
            done=last_stage(self.user)), timeout=self.timeout, pause=self.pause, confirm=self.confirm)

    def _put(self, ctx: HostContext, before: int, after: int, renders: list[str]) -> None:
        """The marker first ("from before to after"), then the JAAS file ``after`` has."""
        spec = ctx.session.inventory.zookeeper
        ctx.write_file(zk_install.sasl_marker_path(spec), marker_text(before, after), mode="644", become=True)
        owner, group, mode = zk_install.file_owner(spec, jaas_path(spec))
        ctx.write_file(jaas_path(spec), renders[after], mode=mode, owner=owner, group=group, become=True)
