"""The runbook's step 1: static addresses, with a safety net like ``netplan try``.

The node applies the new config from a detached script and rolls itself back
unless the controller confirms, within a timeout, that it reached the node at
its new address and found the same host key there. A change that would strand
the node therefore undoes itself even though the controller lost contact.
"""

from __future__ import annotations

import secrets
import shlex
import time

import paramiko

from ..core.connection import ConnectError
from ..core.facts import Fact
from ..core.hostkeys import fingerprint, known_hosts_name
from ..core.session import HostContext, Outcome, Session
from ..errors import InventoryError
from ..inventory import Host, Inventory
from ..plan import Change, file_diff
from ..render.network import StaticAddress, config_path, render_network_config

STEP = "network"
DETECT = (
    "if [ -d /etc/sysconfig/network-scripts ]; then echo ifcfg; "
    "elif command -v nmcli >/dev/null && nmcli -t -f RUNNING general 2>/dev/null | grep -q running; "
    "then echo nmconnection; "
    "elif [ -d /etc/netplan ] && command -v netplan >/dev/null; then echo netplan; "
    "elif systemctl is-active -q systemd-networkd 2>/dev/null; then echo networkd; "
    "else echo none; fi"
)
# How each backend makes its config live. ifcfg without NetworkManager or
# ifup (a minimal host, or the lab) falls back to applying the file with ip.
RELOAD = {
    "ifcfg": ('if command -v nmcli >/dev/null && nmcli -t general >/dev/null 2>&1; then '
              'nmcli connection reload && nmcli connection up "ifname" "$IFACE"; '
              'elif command -v ifup >/dev/null; then ifdown "$IFACE"; ifup "$IFACE"; '
              'else . "$CONFIG"; ip addr flush dev "$IFACE" scope global && '
              'ip addr add "$IPADDR/$PREFIX" dev "$IFACE" && '
              '{ [ -z "${GATEWAY:-}" ] || ip route replace default via "$GATEWAY" dev "$IFACE"; }; fi'),
    "nmconnection": 'nmcli connection reload && nmcli connection up "clusterctl-$IFACE"',
    "netplan": "netplan apply",
    "networkd": 'networkctl reload && networkctl reconfigure "$IFACE"',
}


def static_address(host: Host) -> StaticAddress | None:
    if not host.interface:
        return None
    return StaticAddress(host.interface, host.static_address or host.address, host.prefix or 24,
                         host.gateway, host.dns)


def target_hosts(inventory: Inventory) -> list[str]:
    return [name for name, h in inventory.hosts.items() if h.interface]


def facts(host: Host) -> dict[str, str]:
    iface = shlex.quote(host.interface or "eth0")
    paths = " ".join(shlex.quote(config_path(b, host.interface or "eth0")) for b in RELOAD)
    return {
        "network.backend": DETECT,
        "network.addresses": f"ip -o -4 addr show dev {iface} scope global | awk '{{print $4}}'",
        "network.config": f"for f in {paths}; do [ -f \"$f\" ] && {{ echo \"$f\"; cat \"$f\"; break; }}; done",
    }


def decide(host: Host, f: dict[str, Fact]) -> tuple[str, str, str, str] | None:
    """(backend, path, current content, new content) when the host's config must change."""
    net = static_address(host)
    backend = f["network.backend"].output.strip()
    if net is None:
        return None
    if backend not in RELOAD:
        raise InventoryError("", f"hosts.{host.name}.interface", f"no supported network backend found on "
                             f"{host.name} (ifcfg, NetworkManager, netplan, systemd-networkd)")
    path = config_path(backend, net.interface)
    lines = f["network.config"].output.splitlines()
    current = "\n".join(lines[1:]) + "\n" if lines and lines[0] == path else ""
    wanted = render_network_config(backend, net)
    live = f["network.addresses"].lines
    if current == wanted and live == [net.cidr]:
        return None
    return backend, path, current, wanted


def plan(inventory: Inventory, gathered: dict[str, dict[str, Fact]]) -> dict[str, list[Change]]:
    changes = {}
    for name, f in gathered.items():
        decision = decide(inventory.hosts[name], f)
        if decision is None:
            changes[name] = []
            continue
        backend, path, current, wanted = decision
        changes[name] = [Change(f"configure {static_address(inventory.hosts[name]).cidr} via {backend} "
                                f"(now {', '.join(f['network.addresses'].lines) or 'none'})",
                                file_diff(path, current, wanted))]
    return changes


def apply_script(backend: str, path: str, content: str, iface: str, token: str, timeout: int) -> str:
    """A detached script: install the config, reload, and roll back unless confirmed in time."""
    q = shlex.quote
    state = f"/run/clusterctl-net-{token}"
    reload = RELOAD[backend]
    return f"""set -u
IFACE={q(iface)}; CONFIG={q(path)}; STATE={q(state)}
mkdir -p "$STATE" "$(dirname "$CONFIG")"
ip -o -4 addr show dev "$IFACE" scope global | awk '{{print $4}}' > "$STATE/addresses"
ip -4 route show default > "$STATE/routes"
if [ -f "$CONFIG" ]; then cp -p "$CONFIG" "$STATE/previous"; fi
cat > "$CONFIG.tmp" <<'CLUSTERCTL_EOF'
{content}CLUSTERCTL_EOF
mv -f "$CONFIG.tmp" "$CONFIG"
sleep 1
( {reload} ) > "$STATE/reload.log" 2>&1
echo applied > "$STATE/status"
waited=0
while [ $waited -lt {timeout} ]; do
    [ -e "$STATE/confirmed" ] && {{ echo confirmed > "$STATE/status"; exit 0; }}
    sleep 1; waited=$((waited + 1))
done
if [ -f "$STATE/previous" ]; then cp -p "$STATE/previous" "$CONFIG"; else rm -f "$CONFIG"; fi
ip addr flush dev "$IFACE" scope global
while read -r cidr; do [ -n "$cidr" ] && ip addr add "$cidr" dev "$IFACE"; done < "$STATE/addresses"
while read -r route; do [ -n "$route" ] && ip route replace $route; done < "$STATE/routes"
echo rolled-back > "$STATE/status"
"""


def _reach(host: Host, address: str, expected: paramiko.PKey, session: Session,
           deadline: float) -> paramiko.SSHClient | None:
    """A connection to ``address`` presenting ``expected`` as host key, or None by the deadline."""
    while time.monotonic() < deadline:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # checked just below, by identity
        try:
            client.connect(address, port=host.port, username=host.user, timeout=2, banner_timeout=3,
                           key_filename=str(host.identity) if host.identity else None,
                           password=session.password)
        except (OSError, paramiko.SSHException, EOFError):
            client.close()
            time.sleep(0.5)
            continue
        if client.get_transport().get_remote_server_key() != expected:
            client.close()
            raise ConnectError(f"{address} answers with another host key "
                               f"({fingerprint(client.get_transport().get_remote_server_key())})")
        session.known_hosts.pin(known_hosts_name(address, host.port), expected)
        return client
    return None


def _await_rollback(ctx: HostContext, token: str, deadline: float) -> str:
    """The node's own verdict, read at its old address once its timer has run out."""
    status = "unreachable"
    while time.monotonic() < deadline:
        ctx.session.drop_connection(ctx.host.name)  # the old one died with the address change
        try:
            status = ctx.run(f"cat /run/clusterctl-net-{token}/status", check=False).stdout.strip()
        except ConnectError:
            status = "unreachable"
        if status in ("rolled-back", "confirmed"):
            break
        time.sleep(1)
    return status


def run(session: Session, *, timeout: int = 20) -> dict[str, Outcome]:
    """Give every host with an ``interface`` its static address; roll back what cannot be reached."""
    inventory = session.inventory
    gathered = session.gather(STEP, target_hosts(inventory), facts)

    def apply(ctx: HostContext) -> Outcome:
        decision = decide(ctx.host, gathered[ctx.host.name])
        if decision is None:
            return Outcome.unchanged()
        backend, path, _, wanted = decision
        net = static_address(ctx.host)
        expected = ctx.connection.transport.get_remote_server_key()
        token = secrets.token_hex(6)
        script = apply_script(backend, path, wanted, net.interface, token, timeout)
        launcher = f"/run/clusterctl-net-{token}.sh"
        ctx.run(f"cat > {launcher} && {{ setsid nohup sh {launcher} >/dev/null 2>&1 </dev/null & }}",
                input=script, sudo=True)
        client = _reach(ctx.host, net.address, expected, session, time.monotonic() + timeout - 2)
        session.forget_facts(ctx.host.name)
        if client is not None:
            with client:
                client.exec_command(f"touch /run/clusterctl-net-{token}/confirmed")[1].channel.recv_exit_status()
            return Outcome.changed(f"{net.cidr} via {backend}, reached at the new address")
        status = _await_rollback(ctx, token, time.monotonic() + timeout + 15)
        return Outcome.failed(f"{net.address} was not reachable within {timeout}s; the node "
                              f"{'rolled back' if status == 'rolled-back' else 'reports ' + repr(status)}")

    return session.for_each(STEP, gathered, apply)
