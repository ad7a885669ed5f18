"""The runbook's "vim /etc/hosts": every node resolves every other node by name."""

from __future__ import annotations

from ..core.facts import Fact
from ..core.session import HostContext, Outcome, Session
from ..inventory import Host, Inventory
from ..plan import Change, file_change
from ..render.hosts_file import render_hosts_file

STEP = "hosts"
PATH = "/etc/hosts"


def facts(host: Host) -> dict[str, str]:
    return {"hosts.etc_hosts": f"cat {PATH}"}


def target_hosts(inventory: Inventory) -> list[str]:
    return list(inventory.hosts)


def desired(inventory: Inventory, current: str) -> str:
    addresses = {name: h.static_address or h.address for name, h in inventory.hosts.items()}
    return render_hosts_file(current, inventory.cluster.name, addresses)


def plan(inventory: Inventory, gathered: dict[str, dict[str, Fact]]) -> dict[str, list[Change]]:
    """Per host: the /etc/hosts change, if the block is missing or outdated."""
    changes = {}
    for name, f in gathered.items():
        current = f["hosts.etc_hosts"].output
        change = file_change(PATH, current, desired(inventory, current), "update the clusterctl block in /etc/hosts")
        changes[name] = [change] if change else []
    return changes


def run(session: Session) -> dict[str, Outcome]:
    """Set the managed /etc/hosts block on every host."""
    inventory = session.inventory
    hosts = target_hosts(inventory)
    gathered = session.gather(STEP, hosts, facts)
    planned = plan(inventory, gathered)

    def apply(ctx: HostContext) -> Outcome:
        if not planned[ctx.host.name]:
            return Outcome.unchanged()
        current = gathered[ctx.host.name]["hosts.etc_hosts"].output
        ctx.write_file(PATH, desired(inventory, current), mode="644", sudo=True)
        session.forget_facts(ctx.host.name)
        return Outcome.changed(f"{len(inventory.hosts)} names")

    return session.for_each(STEP, gathered, apply)
