"""Interrupting clusterctl at the worst moment, and at random ones, leaves every file whole.

The worst moment: a file's new content is on its way, the node's receiving
process is paused (SIGSTOP, standing in for a slow disk), and clusterctl is
killed or its connection cut; when the receiver resumes, the file must be
exactly the old one or exactly the new one, with that one's owner and mode.
Then random SIGINT/SIGTERM/SIGKILL across every phase of cold bootstraps,
each followed by checks of every managed file on every node, and a last run
that converges and then changes nothing. And Ctrl-C on a real terminal.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import pty
import random
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from clusterctl.lab.runbook import render_runbook_sections
from clusterctl.core.transfer import local_file
from tests.lab_helpers import inside, running_lab, throttle

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
NODES = ["node1", "node2", "node3"]
SEED = int(os.environ.get("CLUSTERCTL_INTERRUPT_SEED", "20261201"))
KILLS = ("SIGTERM", "SIGKILL", "cut")

# Runs inside the node: waits for the write of DIR/NAME to be under way and stops the process
# receiving its bytes; prints that pid. "head": once the temporary file holds some of a big
# file's bytes, the head reading them; "script": as soon as the write primitive's script for the
# path runs, while its input (script and content, throttled) is still arriving.
PAUSE_RECEIVER = r"""
dir=$1 name=$2 moment=$3
for _ in $(seq 6000); do
    if [ "$moment" = head ]; then
        for t in "$dir"/."$name".clusterctl-tmp.*; do
            [ -s "$t" ] || continue
            if pid=$(pgrep -n -x head); then kill -STOP "$pid"; echo "$pid"; exit 0; fi
        done
    elif pid=$(pgrep -n -f "^bash -s -- $dir/$name "); then
        kill -STOP "$pid"; echo "$pid"; exit 0
    fi
    sleep 0.005
done
exit 1
"""


@pytest.fixture(scope="module")
def lab(artifacts):
    extra = render_runbook_sections(NODES, artifacts["jdk_tarball"], artifacts["zookeeper"], heap_mb=128)
    with running_lab("ti", "10.231.110.0/24", len(NODES), inventory_extra=extra) as lab:
        yield lab


def clusterctl(lab, *words: str, inventory=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "clusterctl", *words, "-i", str(inventory or lab.inventory_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            start_new_session=True)


def finished(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def file_state(lab, node: str, path: str) -> tuple[str, str]:
    """(md5, 'mode owner group') of a file inside the node."""
    out = inside(lab, node, f"md5sum {path} | cut -d' ' -f1; stat -c '%a %U %G' {path}", check=False).split("\n")
    return out[0], out[1] if len(out) > 1 else ""


def leftovers(lab, node: str, *dirs: str) -> str:
    return inside(lab, node, f"ls -a {' '.join(dirs)} 2>/dev/null | grep -E 'clusterctl-(tmp|part|unpack)' || true")


def lab_key_logs_in(lab, node: str) -> bool:
    return subprocess.run(["ssh", "-i", str(lab.key_path), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                           "-o", "UserKnownHostsFile=/dev/null", f"root@{lab.address(node)}", "true"],
                          capture_output=True, timeout=30).returncode == 0


def remote_writes_done(lab, node: str, timeout: float = 60) -> None:
    """Wait until no clusterctl script runs on the node any more (a resumed receiver finishes its write)."""
    deadline = time.monotonic() + timeout
    while "bash -s --" in inside(lab, node, "ps -eo args", check=False):
        assert time.monotonic() < deadline, "a remote script is still running"
        time.sleep(0.2)


def interrupt_mid_write(lab, node: str, directory: str, name: str, moment: str, command: list[str], how: str):
    """Run ``command`` limited to ``node``; pause the receiver of ``name``, then kill or cut; resume it."""
    paused: list[str] = []

    def watch() -> None:
        out = lab.exec(node, ["bash", "-c", PAUSE_RECEIVER, "pause", directory, name, moment], timeout=60)
        paused.append(out.stdout.decode().strip())

    watcher = threading.Thread(target=watch)
    watcher.start()
    process = clusterctl(lab, *command, "--hosts", node)
    watcher.join()
    assert paused and paused[0].isdigit(), f"never caught the receiver of {name}"
    receiver = paused[0]
    if how == "cut":
        # The sshd process serving the session goes: its pipes close, as when the connection drops.
        script = receiver if moment == "script" else inside(lab, node, f"ps -o ppid= -p {receiver}").strip()
        inside(lab, node, f"kill -9 $(ps -o ppid= -p {script})")
    else:
        os.kill(process.pid, getattr(signal, how))
    code, output = finished(process)
    inside(lab, node, f"kill -CONT {receiver}")
    remote_writes_done(lab, node)
    assert "Traceback" not in output
    return code, output


CASES = {
    # file: (directory, name, how to make it need a change (a big one for the first three), the command)
    "hosts": ("/etc", "hosts",
              "for i in $(seq 3000); do echo \"# filler line $i of an operator's big hosts file\"; done >> /etc/hosts; "
              "sed -i 's/^[0-9.]* node2$/UNUSED_ADDRESS node2/' /etc/hosts",
              ["hosts"]),
    "authorized_keys": ("/root/.ssh", "authorized_keys",
                        "for i in $(seq 3000); do echo \"# filler $i: an operator's note kept in authorized_keys\"; "
                        "done >> /root/.ssh/authorized_keys; sed -i '/root@node2$/d' /root/.ssh/authorized_keys",
                        ["ssh-trust", "--no-verify"]),
    "known_hosts": ("/root/.ssh", "known_hosts",
                    "sed -i '/^# BEGIN clusterctl peers/,/^# END clusterctl peers/d' /root/.ssh/known_hosts; "
                    "for i in $(seq 3000); do echo \"filler$i.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF$i\"; "
                    "done >> /root/.ssh/known_hosts",
                    ["ssh-trust", "--no-verify"]),
    "zoo.cfg": ("/etc/zookeeper", "zoo.cfg", "sed -i 's/^tickTime=.*/tickTime=1999/' /etc/zookeeper/zoo.cfg",
                ["zk", "install"]),
    "myid": ("/var/lib/zookeeper", "myid", "rm /var/lib/zookeeper/myid", ["zk", "install"]),
    "profile": ("/etc/profile.d", "zookeeper.sh", "echo '# edited' >> /etc/profile.d/zookeeper.sh", ["zk", "install"]),
    "unit": ("/etc/systemd/system", "zookeeper.service", "echo '# edited' >> /etc/systemd/system/zookeeper.service",
             ["zk", "install"]),
}


@pytest.fixture(scope="module")
def converged(lab):
    boot = clusterctl(lab, "bootstrap", "--skip", "zk-start,smoke")
    code, output = finished(boot, 600)
    assert code == 0, output[-3000:]
    return lab


def converge(lab, *words: str) -> None:
    code, output = finished(clusterctl(lab, *words), 300)
    assert code == 0, output[-3000:]


@pytest.mark.parametrize("how", KILLS)
@pytest.mark.parametrize("kind", list(CASES))
def test_a_write_cut_off_at_the_worst_moment_leaves_the_old_file_or_the_new_one(converged, kind, how):
    lab = converged
    directory, name, spoil, command = CASES[kind]
    path = f"{directory}/{name}"
    big = kind in ("hosts", "authorized_keys", "known_hosts")
    # An address of the lab's subnet that no node has: node2 is wrong in /etc/hosts, and nothing real is hit.
    inside(lab, "node1", spoil.replace("UNUSED_ADDRESS", str(ipaddress.ip_network(lab.subnet)[99])))
    old = file_state(lab, "node1", path)
    # Slow enough that the bytes are still arriving when the receiver is paused.
    throttle(lab, "node1", "2mbit" if big else "100kbit", burst="4kb", latency="5s")
    try:
        code, output = interrupt_mid_write(lab, "node1", directory, name, "head" if big else "script", command, how)
    finally:
        throttle(lab, "node1", None)
    now = file_state(lab, "node1", path)
    converge(lab, *command)
    new = file_state(lab, "node1", path)
    assert now in (old, new), f"{path} is neither the old file nor the new one: {now} vs {old} / {new}"
    assert leftovers(lab, "node1", directory) == ""
    assert lab_key_logs_in(lab, "node1"), "the controller still logs in"
    expected = {"SIGTERM": 143, "SIGKILL": -9, "cut": 1}[how]
    assert code == expected, output[-2000:]
    if how == "SIGTERM":
        assert "interrupted by SIGTERM" in output and "log:" in output and "resumes where it stopped" in output


# -- random interrupts across cold bootstraps -------------------------------------------

BARE = ("systemctl disable --now zookeeper 2>/dev/null; rm -rf /etc/systemd/system/zookeeper.service* /etc/zookeeper; "
        "systemctl daemon-reload 2>/dev/null; sleep 0.3; rm -rf /opt/* /usr/java /var/lib/zookeeper /etc/profile.d/java.sh "
        "/etc/profile.d/zookeeper.sh; sed -i '/^# BEGIN clusterctl/,/^# END clusterctl/d' /etc/hosts; "
        "rm -f /root/.ssh/id_* /root/.ssh/known_hosts; grep clusterctl-lab /root/.ssh/authorized_keys > /tmp/k; "
        "mv /tmp/k /root/.ssh/authorized_keys")


def whole(lab, node: str, artifacts) -> list[str]:
    """What is wrong with the node's managed files (nothing, when each is absent or whole)."""
    problems = []
    hosts = inside(lab, node, "cat /etc/hosts")
    if hosts.count("# BEGIN clusterctl") != hosts.count("# END clusterctl"):
        problems.append("/etc/hosts has half a block")
    if "localhost" not in hosts:
        problems.append("/etc/hosts lost its own lines")
    keys = inside(lab, node, "cat /root/.ssh/authorized_keys")
    if f"clusterctl-lab-{lab.name}" not in keys or not keys.endswith("\n"):
        problems.append("authorized_keys lost the controller's key or ends mid-line")
    known = inside(lab, node, "cat /root/.ssh/known_hosts 2>/dev/null || true")
    if known.count("# BEGIN clusterctl") != known.count("# END clusterctl"):
        problems.append("known_hosts has half a block")
    for profile, variable in (("java.sh", "JAVA_HOME"), ("zookeeper.sh", "ZOOKEEPER_HOME")):
        text = inside(lab, node, f"cat /etc/profile.d/{profile} 2>/dev/null || true")
        if text and not (text.startswith("# Managed by clusterctl") and text.endswith("export PATH\n")
                         and variable in text):
            problems.append(f"/etc/profile.d/{profile} is not whole")
    cfg = inside(lab, node, "cat /etc/zookeeper/zoo.cfg 2>/dev/null || true")
    if cfg and "reconfigEnabled=true" not in cfg:
        problems.append("zoo.cfg is not whole")
    myid = inside(lab, node, "cat /var/lib/zookeeper/myid 2>/dev/null || true")
    if myid and myid != f"{NODES.index(node) + 1}\n":
        problems.append(f"myid holds {myid!r}")
    staged = inside(lab, node, "cd /opt/apps 2>/dev/null && sha256sum *.tar.gz 2>/dev/null || true")
    wanted = {local_file(artifacts[k]).sha256: artifacts[k].name for k in ("jdk_tarball", "zookeeper")}
    for line in staged.splitlines():
        digest, file = line.split()
        if wanted.get(digest) != file:
            problems.append(f"/opt/apps/{file} is not the package")
    java = inside(lab, node, "test -L /usr/java/default && { test -x /usr/java/default/bin/java && echo ok || echo broken; }"
                             " || true").strip()
    if java == "broken":
        problems.append("/usr/java/default points at no JDK")
    spare = leftovers(lab, node, "/etc", "/root/.ssh", "/etc/profile.d", "/opt", "/etc/zookeeper",
                      "/var/lib/zookeeper", "/usr/java")
    if spare:
        problems.append(f"leftovers: {spare.split()}")
    return problems


def test_random_interrupts_across_cold_bootstraps_leave_every_file_whole_and_the_next_run_converges(lab, artifacts):
    rng = random.Random(SEED)
    for node in NODES:
        inside(lab, node, BARE, check=False)
    began = time.monotonic()
    code, output = finished(clusterctl(lab, "bootstrap"), 600)
    assert code == 0, output[-3000:]
    cold = time.monotonic() - began
    history = []
    for round_ in range(12):
        for node in NODES:
            inside(lab, node, BARE, check=False)
        kind = rng.choice(["SIGINT", "SIGTERM", "SIGKILL"])
        delay = rng.uniform(0.2, cold)
        process = clusterctl(lab, "bootstrap")
        time.sleep(delay)
        process.send_signal(getattr(signal, kind))
        code, output = finished(process, 120)
        history.append((round_, kind, round(delay, 1), code))
        assert "Traceback" not in output, (history, output[-3000:])
        if code != 0:
            assert code == {"SIGINT": 130, "SIGTERM": 143, "SIGKILL": -9}[kind], (history, output[-3000:])
        if kind != "SIGKILL" and code != 0:
            # Caught while still starting up (a loaded machine starts slowly), nothing was done: one line says so.
            early = output.strip() == "clusterctl: interrupted before anything was done"
            assert early or (f"interrupted by {kind}" in output and "resumes where it stopped" in output), \
                output[-2000:]
        for node in NODES:
            remote_writes_done(lab, node, timeout=120)
            problems = whole(lab, node, artifacts)
            assert not problems, (history, node, problems)
    code, output = finished(clusterctl(lab, "bootstrap"), 600)
    assert code == 0, (history, output[-3000:])
    code, output = finished(clusterctl(lab, "bootstrap"), 600)
    assert code == 0 and re.search(r"\b0 changed\b", output), output[-2000:]
    for node in NODES:
        assert leftovers(lab, node, "/opt/apps") == "", "no partial package after a converging run"


# -- Ctrl-C on a terminal -------------------------------------------------------------------

def handles_sigterm(pid: int) -> bool:
    """Whether the process catches SIGTERM: clusterctl's first statement installs that handler."""
    try:
        caught = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                      if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))


def on_a_terminal(argv: list[str], ctrl_c_after: float) -> tuple[int, str]:
    """Run clusterctl on a pty, press Ctrl-C ``ctrl_c_after`` seconds after its own code began to run.

    Before that moment the Python interpreter itself is starting (a few tens of
    milliseconds): an interrupt there is the interpreter's, not clusterctl's.
    """
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(REPO)
        os.execvp(sys.executable, [sys.executable, "-m", "clusterctl", *argv])
    while not handles_sigterm(pid):
        time.sleep(0.001)
    seen = b""
    deadline = time.monotonic() + 120
    pressed = False
    started = time.monotonic()
    while time.monotonic() < deadline:
        if not pressed and time.monotonic() - started >= ctrl_c_after:
            os.write(fd, b"\x03")
            pressed = True
        if select.select([fd], [], [], 0.05)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


@pytest.mark.parametrize("after", [0.0, 0.1, 0.3, 1.0])
def test_ctrl_c_at_start_up_is_one_line_and_exit_130(lab, after):
    code, output = on_a_terminal(["plan", "-i", str(lab.inventory_path)], after)
    assert "Traceback" not in output
    assert code in (130, 0), output
    if code == 130:
        assert "interrupted" in output


def test_ctrl_c_during_a_run_prints_the_summary_and_exits_130(lab):
    for node in NODES:
        inside(lab, node, BARE, check=False)
    code, output = on_a_terminal(["bootstrap", "-i", str(lab.inventory_path)], 4.0)
    assert "Traceback" not in output
    assert code == 130, output[-3000:]
    assert "interrupted by SIGINT" in output and "log:" in output and "resumes where it stopped" in output
    converge(lab, "bootstrap")
