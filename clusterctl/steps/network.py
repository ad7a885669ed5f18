"""The runbook's step 1: static addresses, with a safety net like ``netplan try``.

The node applies the new config from a detached script (remote/net.sh) and
rolls itself back unless the controller confirms, within a timeout, that it
reached the node at its new address and found the same host key there. A
change that would strand the node therefore undoes itself even though the
controller lost contact. The step runs only on hosts whose inventory entry
has an ``interface``; ``plan`` says so when none has.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Mapping

from .. import remote
from ..core.facts import FactQuery, query
from ..core.session import HostContext, Outcome
from ..errors import ClusterctlError, ConnectError, Interrupted, RemoteCommandError
from ..inventory import Host, Inventory
from ..plan import Change, file_diff
from ..render.network import BACKENDS, StaticAddress, config_path, render_network_config
from .base import Facts, HostPlan, Step

STEP = "network"
SCRIPT = "net.sh"
DEFAULT_TIMEOUT = 20


def static_address(host: Host) -> StaticAddress | None:
    if not host.interface:
        return None
    return StaticAddress(host.interface, host.static_address or host.address, host.prefix or 24,
                         host.gateway, host.dns)


@dataclass
class NetPlan(HostPlan):
    backend: str = ""
    path: str = ""
    content: str = ""


def decide_host(host: Host, f: Facts) -> NetPlan:
    """What ``host``'s network config needs (pure): nothing, a new file and reload, or a refusal."""
    net = static_address(host)
    backend = f["network.backend"].output.strip()
    if backend not in BACKENDS:
        return NetPlan(problem=f"no supported network configuration system on {host.name} (looked for ifcfg, "
                               f"NetworkManager, netplan, systemd-networkd); configure {net.cidr} by hand")
    path = config_path(backend, net.interface)
    lines = f["network.config"].output.splitlines()
    current = "\n".join(lines[1:]) + "\n" if lines and lines[0] == path else ""
    wanted = render_network_config(backend, net)
    live = f["network.addresses"].lines
    if current == wanted and live == [net.cidr]:
        return NetPlan(backend=backend, path=path, content=wanted)
    change = Change(f"configure {net.cidr} via {backend} (now {', '.join(live) or 'none'})",
                    file_diff(path, current, wanted))
    return NetPlan(changes=[change], backend=backend, path=path, content=wanted)


class Network(Step):
    """Each host with an ``interface`` gets its static address; a host that cannot be reached rolls back."""

    name = phase = STEP
    topic = "network."

    def __init__(self, timeout: int = DEFAULT_TIMEOUT):
        self.timeout = timeout

    def applies(self, inventory: Inventory) -> bool:
        return bool(self.hosts(inventory))

    def not_applied(self, inventory: Inventory) -> str:
        return "no host has an interface key: addresses stay as they are (see clusterctl net)"

    def hosts(self, inventory: Inventory) -> list[str]:
        return [name for name, h in inventory.hosts.items() if h.interface]

    def facts(self, inventory: Inventory, host: Host) -> list[FactQuery]:
        iface = host.interface or "eth0"
        return [query("network.backend", "net_backend"),
                query("network.addresses", "ipv4_addresses", iface),
                query("network.config", "first_file", *(config_path(b, iface) for b in BACKENDS))]

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, NetPlan]:
        return {name: decide_host(inventory.hosts[name], f) for name, f in facts.items()}

    def apply_host(self, ctx: HostContext, plan: NetPlan) -> Outcome:
        if plan.empty:
            return Outcome.unchanged()
        net = static_address(ctx.host)
        state = f"/run/clusterctl-net-{secrets.token_hex(6)}"
        ctx.write_file(f"{state}/net.sh", remote.load(SCRIPT).text, mode="700", dir_mode="700", become=True)
        ctx.write_file(f"{state}/config", plan.content, mode="600", become=True)
        ctx.run_script(SCRIPT, "launch", state, net.interface, plan.path, plan.backend, self.timeout, become=True)
        problem = self._confirm(ctx, net.address, state, time.monotonic() + self.timeout - 2)
        if problem is None:
            return Outcome.changed(f"{net.cidr} via {plan.backend}, reached at the new address")
        status = self._await_rollback(ctx, state, time.monotonic() + self.timeout + 15)
        return Outcome.failed(f"{problem}; the node "
                              f"{'rolled back' if status == 'rolled-back' else 'reports ' + repr(status)}")

    def _confirm(self, ctx: HostContext, address: str, state: str, deadline: float) -> str | None:
        """None once the node took the confirmation at ``address`` (its verdict: confirmed), else why not.

        The state directory is root's, so the confirmation is root's work too
        (through sudo, as the rest of the step).
        """
        moved, why = False, f"{address} was not reachable within {self.timeout}s"
        try:
            while time.monotonic() < deadline:
                moved = moved or ctx.move_to(address, deadline)
                if not moved:
                    break
                try:
                    said = ctx.run_script(SCRIPT, "confirm", state, become=True, timeout=30,
                                          allow_failure="exit 3: the new config is not live yet, so ask again")
                except ConnectError as exc:  # the reload cut this connection: reach the address again
                    moved, why = False, f"lost {address} while confirming: {exc}"
                    continue
                if said.ok:
                    return None
                if said.exited != 3:
                    raise RemoteCommandError(f"{SCRIPT} confirm", said)
                why = f"reached {address}, but the node's new config was not live within {self.timeout}s"
                time.sleep(0.5)
        except Interrupted:
            raise
        except ClusterctlError as exc:
            return f"reached {address}, but the confirmation failed: {exc}"
        return why

    @staticmethod
    def _await_rollback(ctx: HostContext, state: str, deadline: float) -> str:
        """The node's own verdict, read as root at its old address (where a rollback leaves it) once its timer
        has run out."""
        status, connected = "unreachable", False
        while time.monotonic() < deadline:
            try:
                connected = connected or ctx.move_to(ctx.host.address, deadline)
                if connected:
                    status = ctx.run_script(SCRIPT, "status", state, become=True, timeout=15).stdout.strip()
            except ConnectError:
                status, connected = "unreachable", False
            if status in ("rolled-back", "confirmed"):
                break
            time.sleep(1)
        return status
