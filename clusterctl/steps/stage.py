"""Staging a local package on hosts: the transfer core, driven as a step.

The decision per host (keep, stamp or copy, from the staged file's facts) is
made once in ``decide`` and carried to the transfer, which moves the bytes
direct, by relay or down a pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..core.facts import FactQuery
from ..core.host_receive import RemotePaths
from ..core.session import HostResults, Outcome
from ..core.transfer import COPY, KEEP, StagedFile, distribute, local_file, staged_query, staging_action
from ..display import human_bytes
from ..inventory import Host, Inventory
from ..plan import Change
from .base import Facts, HostPlan, Step, StepRun


@dataclass
class StagePlan(HostPlan):
    action: str = KEEP  # KEEP, STAMP or COPY
    skipped: str = ""  # why this host gets nothing (a later step of the phase fails it with the reason)


class StageStep(Step):
    """Puts one package under a stage directory on hosts; subclasses say which, where and on which hosts."""

    topic = "staged."

    def __init__(self, mode: str | None = None):
        self.mode = mode  # direct | relay | pipeline | auto; None: the inventory's

    def package(self, inventory: Inventory) -> Path:
        raise NotImplementedError

    def stage_dir(self, inventory: Inventory) -> str:
        raise NotImplementedError

    def default_mode(self, inventory: Inventory) -> str:
        return "auto"

    def skip_reason(self, inventory: Inventory, host: str, facts: Facts) -> str:
        """Why ``host`` needs no copy even without one (it cannot install it, or has it unpacked)."""
        return ""

    def skip_reasons(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, str]:
        """:meth:`skip_reason` of every host (a step whose reasons need every host's facts decides them here)."""
        return {host: self.skip_reason(inventory, host, f) for host, f in facts.items()}

    def remote(self, inventory: Inventory) -> RemotePaths:
        return RemotePaths(self.stage_dir(inventory), self.package(inventory).name)

    def facts(self, inventory: Inventory, host: Host) -> list[FactQuery]:
        return [staged_query(self.remote(inventory), local_file(self.package(inventory)).size)]

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, StagePlan]:
        local = local_file(self.package(inventory))
        remote = self.remote(inventory)
        plans = {}
        reasons = self.skip_reasons(inventory, facts)
        for host, f in facts.items():
            skipped = reasons[host]
            if skipped:
                plans[host] = StagePlan(skipped=skipped)
                continue
            action = staging_action(StagedFile.from_fact(f[remote.fact_name]), local)
            changes = [Change(f"stage {local.name} ({human_bytes(local.size)}) in {remote.stage_dir}")] \
                if action == COPY else []
            plans[host] = StagePlan(changes=changes, action=action)
        return plans

    def apply(self, run: StepRun, plans: dict[str, StagePlan]) -> HostResults:
        session = run.session
        inventory = session.inventory
        actions = {h: p.action for h, p in plans.items() if not p.skipped}
        # A login user other than root receives the bytes into a directory root made for it.
        copying = [h for h, a in actions.items() if a == COPY and inventory.hosts[h].user != "root"]
        if copying:
            stage_dir = self.stage_dir(inventory)

            def prepare(ctx) -> Outcome:
                ctx.run_script("stage_dir.sh", stage_dir, ctx.host.user, become=True)
                return Outcome.ok()

            session.for_each(self.name, copying, prepare, report=False)
        return distribute(run.session, self.name, actions, self.package(inventory), self.stage_dir(inventory),
                          self.mode or self.default_mode(inventory))


class StageFile(StageStep):
    """One given file to one stage directory on given hosts (all when None): the transfer core alone."""

    def __init__(self, package: Path, stage_dir: str, hosts: list[str] | None = None, mode: str | None = None,
                 name: str = "stage"):
        super().__init__(mode)
        self._package, self._stage_dir, self._hosts = Path(package), stage_dir, hosts
        self.name = self.phase = name

    def package(self, inventory: Inventory) -> Path:
        return self._package

    def stage_dir(self, inventory: Inventory) -> str:
        return self._stage_dir

    def hosts(self, inventory: Inventory) -> list[str]:
        return list(self._hosts) if self._hosts is not None else list(inventory.hosts)
