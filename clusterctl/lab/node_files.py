"""The configuration files that give a lab node its identity, rendered from plain values."""

from __future__ import annotations

from .lab_user import LabUser, SudoRights

# Host key types made per node. No RSA: a 3072-bit key costs one to two seconds
# of CPU each, which would dominate 'up' of a large lab, and every client
# clusterctl uses speaks ed25519.
HOST_KEY_TYPES = ("ed25519", "ecdsa")


def render_etc_hosts(hostname: str, address: str) -> str:
    """/etc/hosts as the Debian installer writes it for a host with a static address."""
    return (
        "127.0.0.1\tlocalhost\n"
        f"{address}\t{hostname}\n"
        "\n"
        "# The following lines are desirable for IPv6 capable hosts\n"
        "::1     localhost ip6-localhost ip6-loopback\n"
        "ff02::1 ip6-allnodes\n"
        "ff02::2 ip6-allrouters\n"
    )


def render_sshd_config(root_login: bool = True, refused_client: str | None = None,
                       tcp_forwarding: bool = False) -> str:
    """A lab machine's /etc/ssh/sshd_config: who may log in, from where, and whether it forwards.

    Every user logs in with a key or a password; root too unless
    ``root_login`` is false. Nobody logs in from ``refused_client`` (an
    address), so that the nodes behind a bastion are reached only through
    it. ``tcp_forwarding`` is for the bastion, which clients use as a ProxyJump.
    """
    host_keys = "".join(f"HostKey /etc/ssh/ssh_host_{kind}_key\n" for kind in HOST_KEY_TYPES)
    who = "root and users log in" if root_login else "users (not root) log in"
    refusal = ""
    if refused_client is not None:
        refusal = (f"# Behind the bastion: the controller ({refused_client}) comes in only through it.\n"
                   f"DenyUsers *@{refused_client}\n")
    forwarding = "AllowTcpForwarding yes\n" if tcp_forwarding else ""
    return (
        f"# Written by clusterctl lab: {who} with the lab key or their lab password.\n"
        # All addresses, as a stock sshd: the node is alone in its netns, and
        # `clusterctl net apply` must find sshd at the node's new address.
        "ListenAddress 0.0.0.0\n"
        "Port 22\n"
        f"{host_keys}"
        "PidFile /run/sshd.pid\n"
        f"PermitRootLogin {'yes' if root_login else 'no'}\n"
        f"{refusal}"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication yes\n"
        "KbdInteractiveAuthentication no\n"
        # Without PAM, sshd checks /etc/shadow itself: one fewer moving part in a container-like node.
        "UsePAM no\n"
        "UseDNS no\n"
        # Many parallel first connections (a 16-node run with high --forks) must not be dropped.
        "MaxStartups 100:30:200\n"
        f"{forwarding}"
        "X11Forwarding no\n"
        "PrintMotd no\n"
        "AcceptEnv LANG LC_*\n"
        "Subsystem sftp /usr/lib/openssh/sftp-server\n"
    )


def render_sudoers(user: LabUser) -> str | None:
    """The sudoers drop-in that gives ``user`` its sudo rights, or None when it has none (no drop-in at all)."""
    if user.sudo is SudoRights.NOSUDO:
        return None
    nopasswd = user.sudo is SudoRights.NOPASSWD
    return (f"# Written by clusterctl lab: {user.name} may run anything as root, "
            f"{'without a password' if nopasswd else 'giving its own password'}.\n"
            f"{user.name} ALL=(ALL:ALL) {'NOPASSWD: ALL' if nopasswd else 'ALL'}\n")
