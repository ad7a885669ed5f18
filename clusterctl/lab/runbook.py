"""The inventory sections that make a lab mirror the runbook: a JDK everywhere, ZooKeeper on node2..node4."""

from __future__ import annotations

from pathlib import Path

JDK_PREFERENCE = ("jdk_rpm", "jdk_tarball", "jdk_deb")  # the runbook installs an rpm


def zookeeper_nodes(nodes: list[str]) -> list[str]:
    """Where the ensemble goes: node2.. as in the runbook once there are 4 nodes, else every node."""
    return nodes[1:] if len(nodes) >= 4 else list(nodes)


def render_runbook_sections(nodes: list[str], jdk_package: Path, zookeeper_package: Path,
                            heap_mb: int = 256) -> str:
    """[jdk] and [zookeeper] TOML for a lab of ``nodes`` (appended to the lab's inventory)."""
    servers = "".join(f"{node} = {i}\n" for i, node in enumerate(zookeeper_nodes(nodes), 1))
    hosts = ", ".join(f'"{n}"' for n in nodes)
    return (
        "\n[jdk]\n"
        f'package = "{jdk_package}"\n'
        f"hosts = [{hosts}]\n"
        'stage_dir = "/opt/apps"\n'
        'java_home = "/usr/java/default"\n'
        'distribute = "auto"\n'
        "\n[zookeeper]\n"
        f'package = "{zookeeper_package}"\n'
        'install_dir = "/opt"\n'
        'data_dir = "/var/lib/zookeeper"\n'
        'data_log_dir = "/var/lib/zookeeper/datalog"\n'
        "client_port = 2181\n"
        "quorum_port = 2888\n"
        "election_port = 3888\n"
        f"heap_mb = {heap_mb}                        # lab nodes share this machine's memory\n"
        "\n[zookeeper.servers]\n"
        f"{servers}"
    )


def pick_packages(artifacts: dict[str, Path]) -> tuple[Path, Path]:
    """The JDK package (the runbook's rpm when there is one) and the ZooKeeper release."""
    jdk = next(artifacts[k] for k in JDK_PREFERENCE if k in artifacts)
    return jdk, artifacts["zookeeper"]
