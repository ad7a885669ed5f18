"""The runbook as a pyinfra deploy: /etc/hosts, SSH trust, a JDK everywhere, ZooKeeper on the servers.

    pyinfra -y INVENTORY.py deploy.py        (INVENTORY.py from make_inventory.py)

Written the way pyinfra's documentation shows: facts read while the deploy
is prepared decide what to do, operations say what a host should have, and
the cross-host part of the SSH trust (every node's key on every node) runs
at execution time through python.call (trust.py), because pyinfra prepares
every host's operations before any of them runs. The settings (ports,
paths, zoo.cfg, the heap) come from the lab's clusterctl inventory through
the pyinfra inventory, so this deploy and clusterctl leave the same state.
"""

from io import StringIO

from pyinfra import host
from pyinfra.facts.files import File
from pyinfra.facts.server import Command
from pyinfra.operations import files, python, server

import trust

data = host.data

files.block(
    name="Cluster names at the top of /etc/hosts",
    path="/etc/hosts",
    content=data.hosts_lines,
    before=True,
    line=r"^127\.0\.0\.1",
    marker="# {mark} benchmark hosts",
)

if not host.get_fact(File, path=f"{data.home}/.ssh/id_ed25519"):
    files.directory(name="~/.ssh", path=f"{data.home}/.ssh", mode="700")
    server.shell(
        name="This node's SSH key pair",
        commands=[f"ssh-keygen -q -t ed25519 -N '' -f {data.home}/.ssh/id_ed25519"],
    )

python.call(name="Read this node's public key and host key", function=trust.collect_keys)
python.call(name="Authorize every node's key, know every node's host key", function=trust.trust_peers)

files.directory(name="/usr/java", path="/usr/java")
files.unarchive(
    name="JDK unpacked under /usr/java",
    src=data.jdk_tarball,
    dest="/usr/java",
    creates=f"/usr/java/{data.jdk_top}/release",
    extra_opts=["--no-same-owner"],
)
files.link(name="JAVA_HOME link", path=data.java_home, target=data.jdk_top)
files.put(name="/etc/profile.d/java.sh", src=StringIO(data.java_profile), dest="/etc/profile.d/java.sh",
          mode="644")

if "zookeeper" in host.groups:
    files.directory(name="ZooKeeper install dir", path=data.install_dir)
    files.unarchive(
        name="ZooKeeper release unpacked",
        src=data.zk_tarball,
        dest=data.install_dir,
        creates=f"{data.zk_release_dir}/bin/zkServer.sh",
        extra_opts=["--no-same-owner"],
    )
    files.link(name="ZOOKEEPER_HOME link", path=data.zk_home, target=data.zk_release_dir)
    files.put(name="zoo.cfg", src=StringIO(data.zoo_cfg), dest=f"{data.zk_home}/conf/zoo.cfg", mode="644")
    files.put(name="java.env", src=StringIO(data.java_env), dest=f"{data.zk_home}/conf/java.env", mode="644")
    files.put(name="/etc/profile.d/zookeeper.sh", src=StringIO(data.zk_profile),
              dest="/etc/profile.d/zookeeper.sh", mode="644")
    files.directory(name="Data dir", path=data.data_dir)
    files.directory(name="Data log dir", path=data.data_log_dir)
    files.put(name="myid", src=StringIO(f"{data.zk_myid}\n"), dest=f"{data.data_dir}/myid", mode="644")
    # Started the runbook's way (zkServer.sh start, its pid file), as clusterctl does: hosts need no systemd.
    server_state = host.get_fact(
        Command,
        command=f'pid=$(cat {data.data_dir}/zookeeper_server.pid 2>/dev/null) && kill -0 "$pid" 2>/dev/null '
                f'&& echo running || echo stopped',
    )
    started = None
    if server_state != "running":
        started = server.shell(
            name="ZooKeeper started",
            commands=[f"cd / && JAVA_HOME={data.java_home} {data.zk_home}/bin/zkServer.sh start"],
        )
    # Running is not serving: wait as clusterctl does until the server answers srvr as a member.
    server.shell(
        name="Wait until this server serves clients",
        commands=[f"for i in $(seq 900); do "
                  f"mode=$(exec 3<>/dev/tcp/127.0.0.1/{data.client_port} && printf srvr >&3 && "
                  f"sed -n 's/^Mode: //p' <&3); "
                  f"case $mode in leader|follower|observer) exit 0 ;; esac; sleep 0.2; done; exit 1"],
        _shell_executable="bash",
    )
    if started is not None and host.name == data.smoke_server:
        # One zkCli session, commands on its standard input: one JVM start, not three.
        server.shell(
            name="Smoke test: write, read back and remove a znode",
            commands=[f"printf 'create /pyinfra-smoke ok\\nget /pyinfra-smoke\\ndelete /pyinfra-smoke\\nquit\\n' | "
                      f"JAVA_HOME={data.java_home} {data.zk_home}/bin/zkCli.sh -server 127.0.0.1:{data.client_port} "
                      f"2>&1 | grep -qx ok"],
        )
