"""The configuration files that give a lab node its identity, rendered from plain values."""

from __future__ import annotations

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


def render_sshd_config(address: str) -> str:
    """The node's /etc/ssh/sshd_config: root may log in with a key or the lab password."""
    host_keys = "".join(f"HostKey /etc/ssh/ssh_host_{kind}_key\n" for kind in HOST_KEY_TYPES)
    return (
        "# Written by clusterctl lab: root logs in with the lab key or the lab password.\n"
        # All addresses, as a stock sshd: the node is alone in its netns, and
        # `clusterctl net apply` must find sshd at the node's new address.
        "ListenAddress 0.0.0.0\n"
        "Port 22\n"
        f"{host_keys}"
        "PidFile /run/sshd.pid\n"
        "PermitRootLogin yes\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication yes\n"
        "KbdInteractiveAuthentication no\n"
        # Without PAM, sshd checks /etc/shadow itself: one fewer moving part in a container-like node.
        "UsePAM no\n"
        "UseDNS no\n"
        # Many parallel first connections (a 16-node run with high --forks) must not be dropped.
        "MaxStartups 100:30:200\n"
        "X11Forwarding no\n"
        "PrintMotd no\n"
        "AcceptEnv LANG LC_*\n"
        "Subsystem sftp /usr/lib/openssh/sftp-server\n"
    )
