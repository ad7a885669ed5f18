"""The runbook's "vim /etc/hosts": every node resolves every other node by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..core.facts import FactQuery, query
from ..core.session import HostContext, Outcome
from ..inventory import Host, Inventory
from ..plan import file_change
from ..render.hosts_file import render_hosts_file
from .base import Facts, HostPlan, Step

PATH = "/etc/hosts"


@dataclass
class HostsPlan(HostPlan):
    content: str = ""  # the file as it should be


def desired(inventory: Inventory, current: str) -> str:
    addresses = {name: h.static_address or h.address for name, h in inventory.hosts.items()}
    return render_hosts_file(current, inventory.cluster.name, addresses)


class HostsFile(Step):
    """The managed block of /etc/hosts, on every host."""

    name = phase = "hosts"
    topic = "hosts."

    def hosts(self, inventory: Inventory) -> list[str]:
        return list(inventory.hosts)

    def facts(self, inventory: Inventory, host: Host) -> list[FactQuery]:
        return [query("hosts.etc_hosts", "file", PATH)]

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, HostsPlan]:
        plans = {}
        for name, f in facts.items():
            current = f["hosts.etc_hosts"].output if f["hosts.etc_hosts"].ok else ""
            wanted = desired(inventory, current)
            change = file_change(PATH, current, wanted, "update the clusterctl block in /etc/hosts")
            plans[name] = HostsPlan(changes=[change] if change else [], content=wanted)
        return plans

    def apply_host(self, ctx: HostContext, plan: HostsPlan) -> Outcome:
        if plan.empty:
            return Outcome.unchanged()
        ctx.write_file(PATH, plan.content, mode="644", become=True)
        return Outcome.changed(f"{len(ctx.session.inventory.hosts)} names")
