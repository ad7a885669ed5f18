"""SSH trust among all nodes for the pyinfra deploy: the N×N part pyinfra has no operation for.

Both functions run through python.call at execution time. pyinfra runs each
operation on every host before the next one starts, so when trust_peers runs
on any host, collect_keys has run on all of them. The module is imported
once per pyinfra process, so its dictionaries are shared by every host.
"""

from pyinfra import host
from pyinfra.facts.server import Command
from pyinfra.operations import files, server

PUBLIC_KEYS: dict[str, str] = {}  # node → its user's public key
HOST_KEYS: dict[str, str] = {}  # node → its sshd's ed25519 host key


def collect_keys() -> None:
    PUBLIC_KEYS[host.name] = host.get_fact(Command, command=f"cat {host.data.home}/.ssh/id_ed25519.pub")
    HOST_KEYS[host.name] = host.get_fact(Command, command="cat /etc/ssh/ssh_host_ed25519_key.pub")


def trust_peers() -> None:
    nodes = host.data.nodes
    server.user_authorized_keys(
        name="Every node's key in authorized_keys",
        user=host.data.ssh_user,
        public_keys=[PUBLIC_KEYS[name] for name in nodes if name in PUBLIC_KEYS],
    )
    known = "\n".join(f"{name},{address} {' '.join(HOST_KEYS[name].split()[:2])}"
                      for name, address in nodes.items() if name in HOST_KEYS)
    files.block(
        name="Every node's host key in known_hosts",
        path=f"{host.data.home}/.ssh/known_hosts",
        content=known,
        marker="# {mark} benchmark peers",
    )
