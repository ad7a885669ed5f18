"""The floor: the runbook's unavoidable work done by hand with plain ssh, for clusterctl to be measured against.

    python benchmarks/floor.py -i LAB_INVENTORY          # a cold bootstrap's floor
    python benchmarks/floor.py -i LAB_INVENTORY --noop   # a converged run's floor

Cold, every node at once (one thread and a few OpenSSH connections per node):

1. the JDK tarball streams into ``tar -xz`` under /usr/java (received once,
   unpacked once, never staged), /usr/java/default and /etc/profile.d/java.sh,
   the /etc/hosts block, and the node's key pair (made on the node), whose
   public key and host key come back on the same connection;
2. on a ZooKeeper server, right after: the release streams into ``tar -xz``
   under install_dir, then zoo.cfg, java.env, myid, the data dirs, the
   profile snippet, and ``zkServer.sh start`` (the runbook's; it sleeps 1 s);
3. once every node's keys are in: authorized_keys and known_hosts (every
   node's key, every node's host key under its name and address);
4. the controller polls ``srvr`` on every server until all serve clients
   under one leader (the election).

Not in the floor: checking what is there before changing it, hashing,
atomic renames, proving the trust with logins, the smoke test. --noop is one
connection per node that looks at what a converged run must look at
(files present, the server running) and changes nothing.

Prints one line, ``floor <seconds>``; exits 1 if the job was not done. Reads
everything from the lab inventory (see runbook_job.py).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from end_state import serving, wait_until_serving  # noqa: E402
from runbook_job import HOSTS_BEGIN, HOSTS_END, JAVA_DIR, Job, load_job  # noqa: E402

KEY_TYPE = "ed25519"

# bash -c SCRIPT floor JAVA_DIR TOP JAVA_HOME PROFILE HOSTS_BLOCK, the JDK tarball on stdin.
JDK_AND_KEYS = r"""
set -eu
java_dir=$1 top=$2 java_home=$3 profile=$4 block=$5
mkdir -p "$java_dir"
tar -xzf - -C "$java_dir" --no-same-owner
ln -sfn "$top" "$java_home"
printf '%s' "$profile" > /etc/profile.d/java.sh
others=$(sed '/^# BEGIN benchmark hosts$/,/^# END benchmark hosts$/d' /etc/hosts)
printf '%s\n%s\n' "$block" "$others" > /etc/hosts
mkdir -p -m 700 ~/.ssh
[ -f ~/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519 </dev/null
cat ~/.ssh/id_ed25519.pub /etc/ssh/ssh_host_ed25519_key.pub
"""

# bash -c SCRIPT floor INSTALL_DIR TOP HOME DATA DATALOG MYID ZOO_CFG JAVA_ENV PROFILE JAVA_HOME,
# the release tarball on stdin.
ZOOKEEPER = r"""
set -eu
install_dir=$1 top=$2 home=$3 data=$4 datalog=$5 myid=$6 cfg=$7 env=$8 profile=$9 java_home=${10}
mkdir -p "$install_dir" "$data" "$datalog"
tar -xzf - -C "$install_dir" --no-same-owner
ln -sfn "$install_dir/$top" "$home"
printf '%s' "$cfg" > "$home/conf/zoo.cfg"
printf '%s' "$env" > "$home/conf/java.env"
printf '%s\n' "$myid" > "$data/myid"
printf '%s' "$profile" > /etc/profile.d/zookeeper.sh
cd /
JAVA_HOME=$java_home "$home/bin/zkServer.sh" start >/dev/null
"""

# bash -c SCRIPT floor AUTHORIZED_KEYS KNOWN_HOSTS: the peers' keys, appended where missing.
TRUST = r"""
set -eu
touch ~/.ssh/authorized_keys ~/.ssh/known_hosts
chmod 600 ~/.ssh/authorized_keys
printf '%s' "$1" | grep -vxFf ~/.ssh/authorized_keys >> ~/.ssh/authorized_keys || true
printf '%s' "$2" | grep -vxFf ~/.ssh/known_hosts >> ~/.ssh/known_hosts || true
"""

# bash -c SCRIPT floor PID_FILE PATH...: what a converged run has to look at on a node (PID_FILE
# empty on a node without a server); prints what is missing.
LOOK = r"""
pid_file=$1
shift
for path in "$@" ~/.ssh/id_ed25519; do [ -e "$path" ] || echo "missing $path"; done
if [ -n "$pid_file" ]; then
    pid=$(cat "$pid_file" 2>/dev/null) && kill -0 "$pid" 2>/dev/null || echo "no server running"
fi
"""


class Ssh:
    """Plain OpenSSH to the job's nodes as the job's user, with the lab key and known_hosts."""

    def __init__(self, job: Job):
        self.job = job
        # curve25519 because OpenSSH 9's default post-quantum key exchange costs about a CPU
        # second per connection here; AES-GCM because this CPU has AES-NI.
        self.options = ["-i", str(job.identity), "-o", f"UserKnownHostsFile={job.known_hosts}",
                        "-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes",
                        "-o", "KexAlgorithms=curve25519-sha256", "-o", "Ciphers=aes128-gcm@openssh.com",
                        "-o", "ConnectTimeout=30", "-l", job.user]

    def run(self, node: str, script: str, *args: str, stdin: Path | None = None) -> str:
        """Run ``script`` with ``args`` on ``node`` (stdin from the file ``stdin``); its stdout."""
        remote = shlex.join(["bash", "-c", script, "floor", *args])
        with open(stdin or "/dev/null", "rb") as source:
            result = subprocess.run(["ssh", *self.options, self.job.nodes[node], remote], stdin=source,
                                    capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{node}: exit {result.returncode}: {result.stderr.strip()[-400:]}")
        return result.stdout


def cold(job: Job, ssh: Ssh, timeout: float) -> list[str]:
    """Do the whole job; the problems (empty when every server serves under one leader)."""
    keys: dict[str, tuple[str, str]] = {}  # node → (its public key, its host key)
    finished = []
    all_keys_in = threading.Event()
    lock = threading.Lock()
    block = f"{HOSTS_BEGIN}\n{job.hosts_lines()}{HOSTS_END}"

    def node_work(node: str) -> None:
        try:
            out = ssh.run(node, JDK_AND_KEYS, JAVA_DIR, job.jdk_top, job.java_home, job.java_profile(), block,
                          stdin=job.jdk_tarball)
            public_key, host_key = out.strip().splitlines()[-2:]
            keys[node] = (public_key, host_key)
        finally:
            # A node that failed must not keep the others waiting for its keys.
            with lock:
                finished.append(node)
                if len(finished) == len(job.nodes):
                    all_keys_in.set()
        if node in job.servers:
            ssh.run(node, ZOOKEEPER, job.install_dir, job.zk_top, job.zk_home, job.data_dir, job.data_log_dir,
                    str(job.servers[node]), job.zoo_cfg(), job.java_env(), job.zk_profile(), job.java_home,
                    stdin=job.zk_tarball)
        all_keys_in.wait()
        authorized = "".join(f"{public}\n" for public, _ in keys.values())
        known = "".join(f"{name},{job.nodes[name]} {' '.join(host.split()[:2])}\n"
                        for name, (_, host) in keys.items())
        ssh.run(node, TRUST, authorized, known)

    problems = []
    with ThreadPoolExecutor(max_workers=len(job.nodes)) as pool:
        for node, future in [(node, pool.submit(node_work, node)) for node in job.nodes]:
            try:
                future.result()
            except Exception as error:  # a failed node is reported, the others finish
                problems.append(f"{node}: {error}")
    if not problems:
        found = wait_until_serving(job, timeout)
        if not serving(found):
            problems.append(f"no ensemble serving under one leader after {timeout:.0f}s: {found}")
    return problems


def noop(job: Job, ssh: Ssh) -> list[str]:
    """Look at every node once, as a converged run must; what is missing."""
    def look(node: str) -> list[str]:
        paths = [f"{job.jdk_home}/release", job.java_home, "/etc/profile.d/java.sh"]
        pid_file = ""
        if node in job.servers:
            paths += [f"{job.zk_home}/conf/zoo.cfg", f"{job.data_dir}/myid"]
            pid_file = f"{job.data_dir}/zookeeper_server.pid"
        return ssh.run(node, LOOK, pid_file, *paths).splitlines()

    with ThreadPoolExecutor(max_workers=len(job.nodes)) as pool:
        return [f"{node}: {p}" for node, found in zip(job.nodes, pool.map(look, job.nodes)) for p in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", type=Path, required=True)
    parser.add_argument("--noop", action="store_true", help="the floor of a converged run: look, change nothing")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the election")
    args = parser.parse_args()
    job = load_job(args.inventory)
    ssh = Ssh(job)
    start = time.monotonic()
    problems = noop(job, ssh) if args.noop else cold(job, ssh, args.timeout)
    elapsed = time.monotonic() - start
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"floor {elapsed:.3f}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
