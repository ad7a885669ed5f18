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
                gateway: fabric.Connection | None, timeout: float = CONNECT_TIMEOUT) -> fabric.Connection:
    connect_kwargs: dict = {"banner_timeout": timeout, "auth_timeout": timeout}
    if identity:
        connect_kwargs["key_filename"] = [str(identity)]
    if password:
        connect_kwargs["password"] = password
    # forward_agent stays off: a key of the operator's must never be usable from a managed host.
    return fabric.Connection(address, user=user, port=port, connect_timeout=timeout, gateway=gateway,
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


class MovedHostPolicy(paramiko.MissingHostKeyPolicy):
    """At a host's new address only its own key is taken: the key it showed at its old one."""

    def __init__(self, known_hosts: KnownHosts, expected: paramiko.PKey, strict: bool):
        self.known_hosts, self.expected, self.strict = known_hosts, expected, strict

    def missing_host_key(self, client, hostname, key):
        if key != self.expected:
            raise ConnectError(f"{hostname} answers with another host key ({fingerprint(key)}) than the host "
                               f"had at its old address ({fingerprint(self.expected)})")
        if not self.strict:  # StrictHostKeyChecking yes: proven for this run, but known_hosts is the user's
            self.known_hosts.pin(hostname, key)


def open_moved(host: Host, address: str, expected: paramiko.PKey, known_hosts: KnownHosts, password: str | None,
               deadline: float, gateway: fabric.Connection | None = None) -> fabric.Connection | None:
    """An open connection to ``host`` at ``address``, where its address is changing; None if none by ``deadline``.

    The same host key at the new address is what shows it is the same host:
    any other is refused (ConnectError), as is a key pinned for ``address``
    that differs from it (HostKeyMismatch); the key is then pinned for
    ``address``. Through ``gateway`` (the host's last bastion) when it has one.
    Short timeouts, tried again until ``deadline``: the address comes up while
    the node applies its new config.
    """
    name = known_hosts_name(address, host.port)
    while time.monotonic() < deadline:
        conn = _connection(address, host.user, host.port, host.identity, password, None, timeout=3)
        for key_type, key in known_hosts.lookup(name).items():
            conn.client.get_host_keys().add(name, key_type, key)
        conn.client.set_missing_host_key_policy(MovedHostPolicy(known_hosts, expected, host.strict_host_keys))
        try:
            if gateway is not None:  # opened here, not by Fabric: with a timeout, while the address comes up
                conn.connect_kwargs["sock"] = gateway.transport.open_channel(
                    "direct-tcpip", (address, host.port), ("", 0), timeout=3)
            conn.open()
            return conn
        except paramiko.BadHostKeyException as exc:
            conn.client.close()
            raise mismatch_error(host.name, address, exc, known_hosts) from None
        except (OSError, paramiko.SSHException, EOFError):
            conn.client.close()
            sock = conn.connect_kwargs.get("sock")
            if sock is not None:
                sock.close()
            time.sleep(0.5)
        except BaseException:  # another host key, or an interrupt: nothing left open
            conn.client.close()
            raise
    return None


__all__ = ["ChannelLost", "ConnectError", "controller_public_key", "install_controller_key", "open_connection",
           "open_jump", "open_moved", "run_script_on"]
