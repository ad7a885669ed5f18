"""Write the pyinfra inventory (inventory.py) for a lab, from the lab's clusterctl inventory.

    python benchmarks/peers/pyinfra_runbook/make_inventory.py LAB_INVENTORY OUT.py

Every node connects as the inventory's user with the lab key and the lab's
known_hosts (new host keys accepted and pinned, as clusterctl does); the
ZooKeeper servers form the group ``zookeeper``. The job's settings travel as
host data, so deploy.py holds no value of its own.
"""

from __future__ import annotations

import pprint
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from runbook_job import Job, load_job  # noqa: E402

def host_data(job: Job) -> dict:
    """What every host's deploy reads, the same for all hosts."""
    return {
        "ssh_user": job.user,
        "ssh_key": str(job.identity),
        "ssh_known_hosts_file": str(job.known_hosts),
        "ssh_strict_host_key_checking": "accept-new",
        "home": "/root" if job.user == "root" else f"/home/{job.user}",
        "nodes": dict(job.nodes),
        "hosts_lines": job.hosts_lines().rstrip("\n"),
        "jdk_tarball": str(job.jdk_tarball),
        "jdk_top": job.jdk_top,
        "java_home": job.java_home,
        "java_profile": job.java_profile(),
        "zk_tarball": str(job.zk_tarball),
        "zk_release_dir": job.zk_release_dir,
        "zk_home": job.zk_home,
        "install_dir": job.install_dir,
        "data_dir": job.data_dir,
        "data_log_dir": job.data_log_dir,
        "client_port": job.client_port,
        "zoo_cfg": job.zoo_cfg(),
        "java_env": job.java_env(),
        "zk_profile": job.zk_profile(),
        "smoke_server": next(iter(job.servers)),
    }


def render_inventory(job: Job) -> str:
    """inventory.py text: groups ``nodes`` (all) and ``zookeeper`` (the servers)."""
    hosts = [(name, {"ssh_hostname": address, "zk_myid": job.servers.get(name)}) for name, address in job.nodes.items()]
    return (f"# Written by make_inventory.py from {job.inventory}.\n"
            f"_job = {pprint.pformat(host_data(job), width=110)}\n\n"
            "nodes = [\n" + "".join(f"    ({name!r}, {{**_job, **{extra!r}}}),\n" for name, extra in hosts) + "]\n"
            f"zookeeper = {list(job.servers)!r}\n")


def main() -> None:
    inventory, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.write_text(render_inventory(load_job(inventory)))


if __name__ == "__main__":
    main()
