"""Run on a ZooKeeper node: what the node and its server say, read only; the words asked on 127.0.0.1.

    python3 - ask PORT TIMEOUT WORD...     < this file
    python3 - doctor PORT TIMEOUT WORDS DATA_DIR LOG_DIR SERVER_LOG UNIT PID_FILE ZOO_CFG KEYSTORE [CONFIG_FILE...]
    python3 - collect LINES FILES DOCTOR_ARGUMENT...

ask prints {word: answer} as one JSON object, a word that could not be asked
mapping to {"error": ..., "refused": bool}: for when the controller cannot
reach the client port itself. doctor prints what zk doctor needs, as JSON
lines {"name": NAME, "value": ...} or {"name": NAME, "error": "..."}; WORDS is
comma-separated; of KEYSTORE (PEM: the server's key and certificate chain) only
the certificate blocks are read out, never the key. collect prints doctor's lines, then a "file" line
{"path": ..., "text": ...} for each of FILES (comma-separated; a directory's
files), the last LINES lines of the server and GC logs, the unit's journal,
the disks and memory; the controller redacts them before they are kept. Asking the server on the node works where the words are
allowed to localhost only. Nothing here changes the host; the server's
environment is never read (it holds the super user's digest), only its
command line, limits and status.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time

SLOW_FSYNC = "fsync-ing the write ahead log"
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")
HOUR = 3600
CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]*?-----END CERTIFICATE-----")
KEY_FILES = (".jks", ".p12", ".pfx", ".key", ".keystore", ".truststore", ".bcfks")  # never collected


def say(name, value=None, error=None):
    line = {"name": name, "error": error} if error is not None else {"name": name, "value": value}
    print(json.dumps(line), flush=True)


def ask(port, timeout, word):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(word.encode())
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.decode("utf-8", "replace")
    except (ConnectionRefusedError, ConnectionResetError) as exc:
        return {"error": str(exc), "refused": True}
    except OSError as exc:
        return {"error": str(exc) or type(exc).__name__, "refused": False}


def server_pid(unit, pid_file):
    """The server's pid: the unit's main process where systemd runs it, else zkServer.sh's pid file."""
    pid = ""
    if os.path.isdir("/run/systemd/system"):
        shown = subprocess.run(["systemctl", "show", "-p", "MainPID", "--value", unit], capture_output=True,
                               text=True)
        pid = shown.stdout.strip() if shown.returncode == 0 else ""
    if not pid or pid == "0":
        try:
            with open(pid_file) as f:
                pid = f.read().strip()
        except OSError:
            return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
    except (OSError, ValueError):
        return None
    return (int(pid), [w.decode("utf-8", "replace") for w in cmdline if w]) if b"QuorumPeerMain" in b" ".join(
        cmdline) else None


def proc_field(pid, name, key):
    """A line's value in /proc/PID/NAME (status: "VmSwap:   0 kB"; limits: "Max open files  N  N  files")."""
    try:
        with open(f"/proc/{pid}/{name}") as f:
            for line in f:
                if line.startswith(key):
                    return line[len(key):].split()
    except OSError:
        pass
    return None


def jdk_version(pid):
    """The version the running JVM's JDK says in its release file, else the java binary's path."""
    try:
        java = os.path.realpath(f"/proc/{pid}/exe")
        with open(os.path.join(os.path.dirname(os.path.dirname(java)), "release")) as f:
            for line in f:
                if line.startswith("JAVA_VERSION="):
                    return line.split("=", 1)[1].strip().strip('"')
        return java
    except OSError as exc:
        return f"unknown ({exc.strerror})"


def server(unit, pid_file, config_files):
    found = server_pid(unit, pid_file)
    if found is None:
        return say("server", error="no ZooKeeper server runs on this node")
    pid, cmdline = found
    ticks = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/stat") as f:
        started = int(f.read().rsplit(")", 1)[1].split()[19]) / ticks
    with open("/proc/uptime") as f:
        seconds = float(f.read().split()[0]) - started
    now = time.time()
    changed = [p for p in config_files if os.path.exists(p) and now - os.stat(p).st_mtime < seconds]
    props = dict(w[2:].split("=", 1) for w in cmdline if w.startswith("-D") and "=" in w)
    swap = proc_field(pid, "status", "VmSwap:")
    limit = proc_field(pid, "limits", "Max open files")
    say("server", {
        "pid": pid, "seconds": int(seconds),
        "xmx": next((w[4:] for w in reversed(cmdline) if w.startswith("-Xmx")), None),
        "jute_maxbuffer": props.get("jute.maxbuffer"),
        "swap_kb": int(swap[0]) if swap else None,
        "open_files_limit": limit[0] if limit else None,
        "open_files": len(os.listdir(f"/proc/{pid}/fd")),
        "jdk": jdk_version(pid),
        "changed_since_start": changed,
    })


def files(directory, prefix):
    """[name, size, mtime, bytes allocated] of each snapshot or log file in DIRECTORY/version-2 (a log is
    preallocated sparsely: its size is not what it takes on disk)."""
    where = os.path.join(directory, "version-2")
    out = []
    try:
        for name in sorted(os.listdir(where)):
            if name.startswith(prefix):
                st = os.stat(os.path.join(where, name))
                out.append([name, st.st_size, int(st.st_mtime), st.st_blocks * 512])
    except OSError:
        pass
    return out


def disk(paths):
    out = {}
    for path in paths:
        try:
            st = os.statvfs(path)
            out[path] = {"free": st.f_bavail * st.f_frsize, "total": st.f_blocks * st.f_frsize, "device": os.stat(
                path).st_dev}
        except OSError as exc:
            out[path] = {"error": exc.strerror}
    return out


def slow_fsyncs(log_path, now):
    """The server log's slow-fsync warnings from the last hour: their count and the last one."""
    count, last = 0, None
    for path in (log_path + ".1", log_path):
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    if SLOW_FSYNC not in line:
                        continue
                    stamp = LOG_TIME.match(line)
                    if stamp and now - time.mktime(time.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S")) <= HOUR:
                        count, last = count + 1, line.strip()[:400]
        except OSError:
            continue
    return {"count": count, "last": last}


def certificates(keystore):
    """The certificate blocks of the PEM keystore, nothing else of it (the key stays in the file); None when
    there is no keystore."""
    try:
        with open(keystore, errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    return "".join(m.group(0) + "\n" for m in CERTIFICATE.finditer(text))


def memory():
    values = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("SwapTotal", "SwapFree", "MemTotal"):
                values[key] = int(rest.split()[0])
    return values


def ask_words(argv):
    port, timeout, words = int(argv[0]), float(argv[1]), argv[2:]
    print(json.dumps({word: ask(port, timeout, word) for word in words}))


def doctor(argv):
    port, timeout, words = int(argv[0]), float(argv[1]), [w for w in argv[2].split(",") if w]
    data_dir, log_dir, server_log, unit, pid_file, zoo_cfg, keystore = argv[3:10]
    config_files = argv[10:]
    say("fourlw", {word: ask(port, timeout, word) for word in words})
    try:
        server(unit, pid_file, config_files)
    except OSError as exc:
        say("server", error=f"the server's process could not be read: {exc}")
    say("snapshots", files(data_dir, "snapshot."))
    say("logs", files(log_dir, "log."))
    say("disk", disk([data_dir, log_dir]))
    say("slow_fsyncs", slow_fsyncs(server_log, time.time()))
    say("memory", memory())
    try:
        with open(zoo_cfg) as f:
            say("zoo_cfg", f.read())
    except OSError as exc:
        say("zoo_cfg", error=exc.strerror)
    try:
        say("tls_cert", certificates(keystore))
    except OSError as exc:
        say("tls_cert", error=exc.strerror)
    say("clock", time.time())


def tail(path, lines):
    """The last LINES lines of a file (read from its end: a log may be large)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - lines * 400))
        return b"".join(f.read().splitlines(keepends=True)[-lines:]).decode("utf-8", "replace")


def file_line(path, text=None, error=None):
    say("file", {"path": path, "text": text} if error is None else {"path": path, "error": error})


def command_output(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return done.stdout + done.stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{' '.join(argv)}: {exc}"


def collect(argv):
    lines, wanted, doctor_args = int(argv[0]), [p for p in argv[1].split(",") if p], argv[2:]
    doctor(doctor_args)
    server_log, unit = doctor_args[5], doctor_args[6]
    for path in wanted:
        paths = sorted(os.path.join(path, n) for n in os.listdir(path)) if os.path.isdir(path) else [path]
        for one in paths:
            if os.path.isdir(one) or one.endswith(KEY_FILES):
                continue
            try:
                with open(one, errors="replace") as f:
                    file_line(one, f.read())
            except OSError as exc:
                file_line(one, error=exc.strerror)
    for path in (server_log, os.path.join(os.path.dirname(server_log), "gc.log")):
        try:
            file_line(path, tail(path, lines))
        except OSError as exc:
            file_line(path, error=exc.strerror)
    if os.path.isdir("/run/systemd/system"):
        file_line("journal", command_output(["journalctl", "-u", unit, "-n", str(lines), "--no-pager"]))
    file_line("df", command_output(["df", "-h"]))
    with open("/proc/meminfo") as f:
        file_line("meminfo", f.read())


def main(argv):
    {"ask": ask_words, "doctor": doctor, "collect": collect}[argv[0]](argv[1:])


main(sys.argv[1:])
