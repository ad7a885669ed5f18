"""Opening one SSH connection to one inventory host.

Connections honour ~/.ssh/config, identity files and the agent (through
Fabric's config), pin host keys with accept-new semantics, and on first
contact with only a password install the controller's public key on the host,
as ``ssh-copy-id`` does, so later runs need no password.
"""

from __future__ import annotations

import time
from pathlib import Path

import fabric
import paramiko

from .. import remote
from ..errors import ConnectError, RemoteCommandError
from ..inventory import Host, Jump
from .channel import ChannelLost, CommandResult, execute, require_reason
from .hostkeys import KnownHosts, UnknownHostKey, fingerprint, known_hosts_name, mismatch_error, prepare_client

CONNECT_TIMEOUT = 10


def _fabric_config() -> fabric.Config:
    """A Fabric config of one connection's own.

    The SSH config is applied to the inventory once (core/ssh_config.py); Fabric must not apply it
    again on its own, or a ProxyJump from it would bypass the host-key pinning of the bastion. Never
    shared: making a Connection rebuilds its config in place (Config.merge empties it first), and a
    connection made at that moment in another thread found no 'gateway' key (an AttributeError).
    """
    return fabric.Config(overrides={"load_ssh_configs": False})


def _connection(address: str, user: str, port: int, identity: Path | None, password: str | None,
                gateway: fabric.Connection | None) -> fabric.Connection:
    connect_kwargs: dict = {"banner_timeout": CONNECT_TIMEOUT, "auth_timeout": CONNECT_TIMEOUT}
    if identity:
        connect_kwargs["key_filename"] = [str(identity)]
    if password:
        connect_kwargs["password"] = password
    # forward_agent stays off: a key of the operator's must never be usable from a managed host.
    return fabric.Connection(address, user=user, port=port, connect_timeout=CONNECT_TIMEOUT, gateway=gateway,
                             connect_kwargs=connect_kwargs, forward_agent=False, config=_fabric_config())


def open_jump(jump: Jump, via: fabric.Connection | None, host: Host, known_hosts: KnownHosts) -> fabric.Connection:
    """An open connection to a bastion (through ``via``, the hop before it), its host key pinned as any host's."""
    conn = _connection(jump.host, jump.user or host.user, jump.port, host.identity, None, via)
    prepare_client(conn.client, known_hosts, known_hosts_name(jump.host, jump.port), strict=host.strict_host_keys)
    label = f"{jump} (the jump host to {host.name})"
    try:
        conn.open()
    except paramiko.BadHostKeyException as exc:
        raise mismatch_error(label, jump.host, exc, known_hosts) from None
    except paramiko.AuthenticationException:
        raise ConnectError(f"authentication at the jump host {jump} failed") from None
    except (OSError, paramiko.SSHException, EOFError) as exc:
        raise ConnectError(f"cannot reach the jump host {jump}: {exc or type(exc).__name__}") from None
    return conn


def open_connection(host: Host, known_hosts: KnownHosts, password: str | None = None,
                    gateway: fabric.Connection | None = None) -> fabric.Connection:
    """An open, authenticated Fabric connection to ``host`` (through ``gateway``, its last bastion); raises ConnectError."""
    conn = _connection(host.address, host.user, host.port, host.identity, password, gateway)
    prepare_client(conn.client, known_hosts, known_hosts_name(host.address, host.port), strict=host.strict_host_keys)
    try:
        conn.open()
    except paramiko.BadHostKeyException as exc:
        raise mismatch_error(host.name, host.address, exc, known_hosts) from None
    except UnknownHostKey as exc:
        raise ConnectError(str(exc)) from None
    except paramiko.AuthenticationException:
        how = "key and password" if password else "key (no password given: try --ask-pass)"
        raise ConnectError(f"authentication as {host.user}@{host.address} failed with {how}") from None
    except (OSError, paramiko.SSHException, EOFError) as exc:
        via = f" through {', '.join(map(str, host.jump))}" if host.jump else ""
        raise ConnectError(f"cannot connect to {host.address}:{host.port}{via}: {exc or type(exc).__name__}") from None
    if password and _authenticated_by_password(conn):
        install_controller_key(conn, host)
    return conn


def _authenticated_by_password(conn: fabric.Connection) -> bool:
    handler = conn.transport.auth_handler
    return handler is not None and getattr(handler, "auth_method", "") == "password"


def controller_public_key(identity: Path) -> str:
    """The OpenSSH public-key line of the controller's identity."""
    pub = Path(str(identity) + ".pub")
    if pub.exists():
        return " ".join(pub.read_text().split()[:2])
    key = paramiko.PKey.from_path(identity)
    return f"{key.get_name()} {key.get_base64()}"


def run_script_on(transport: paramiko.Transport, name: str, *args: str, timeout: float = 30,
                  allow_failure: str | None = None) -> CommandResult:
    """A remote script over a transport that is not (or not yet) the session's: first contact.

    Raises RemoteCommandError if it exits non-zero, unless ``allow_failure`` says why the caller reads it.
    """
    require_reason(allow_failure)
    script = remote.load(name)
    result = execute(transport, script.command_line(list(args)), [script.text], timeout=timeout)
    if not result.ok and allow_failure is None:
        raise RemoteCommandError(name, result)
    return result


def install_controller_key(conn: fabric.Connection, host: Host) -> None:
    """Append the controller's key to the remote authorized_keys unless present (ssh-copy-id)."""
    if host.identity is None:
        return
    result = run_script_on(conn.client.get_transport(), "ssh_trust.sh", "authorize",
                           controller_public_key(host.identity),
                           allow_failure="a refusal is a ConnectError naming the address, below")
    if not result.ok:
        raise ConnectError(f"could not install the controller's key on {host.address}: {result.stderr.strip()}")


def reach(host: Host, address: str, expected: paramiko.PKey, known_hosts: KnownHosts, password: str | None,
          deadline: float, gateway: fabric.Connection | None = None) -> paramiko.SSHClient | None:
    """A connection to ``address`` whose host key is ``expected``, or None if none by ``deadline``.

    For a host whose address is changing: the same host key at the new
    address is what shows it is the same host. The key is pinned there.
    Through ``gateway`` (the host's last bastion) when it has one.
    """
    while time.monotonic() < deadline:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # checked just below, by identity
        try:
            sock = None
            if gateway is not None:
                sock = gateway.transport.open_channel("direct-tcpip", (address, host.port), ("", 0), timeout=3)
            client.connect(address, port=host.port, username=host.user, timeout=2, banner_timeout=3, sock=sock,
                           key_filename=str(host.identity) if host.identity else None, password=password)
        except (OSError, paramiko.SSHException, EOFError):
            client.close()
            time.sleep(0.5)
            continue
        offered = client.get_transport().get_remote_server_key()
        if offered != expected:
            client.close()
            raise ConnectError(f"{address} answers with another host key ({fingerprint(offered)})")
        known_hosts.pin(known_hosts_name(address, host.port), expected)
        return client
    return None


__all__ = ["ChannelLost", "ConnectError", "controller_public_key", "install_controller_key", "open_connection",
           "open_jump", "reach", "run_script_on"]
