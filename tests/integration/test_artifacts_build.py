"""The artifacts built from this machine's packages really work: the JDK tarball runs and
compiles, the rpm and deb install (into scratch roots) with their /usr/java links, and the
ZooKeeper release serves on 127.0.0.1 with that JDK and no java on PATH.

Builds happen once per session, in a temporary directory or in $CLUSTERCTL_ARTIFACTS_CACHE
when set (then a second session reuses them).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from clusterctl.lab.artifacts import ArtifactError, detect_jdk, detect_zookeeper, ensure_artifacts

pytestmark = pytest.mark.integration


def _missing_sources() -> str | None:
    try:
        detect_jdk()
        detect_zookeeper()
    except ArtifactError as exc:
        return str(exc)
    for tool, package in (("rpmbuild", "rpm"), ("dpkg-deb", "dpkg"), ("bash", "bash")):
        if shutil.which(tool) is None:
            return f"{tool} not installed (apt-get install -y {package})"
    return None


_MISSING = _missing_sources()
if _MISSING:
    pytest.skip(f"source packages for the artifacts are missing: {_MISSING}", allow_module_level=True)


def run(*argv: object, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("timeout", 300)
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> dict[str, Path]:
    cache = os.environ.get("CLUSTERCTL_ARTIFACTS_CACHE")
    out_dir = Path(cache) if cache else tmp_path_factory.mktemp("artifacts")
    started = time.monotonic()
    built = ensure_artifacts(out_dir)
    print(f"\nartifacts ready in {time.monotonic() - started:.1f}s in {out_dir}")
    return built


@pytest.fixture(scope="session")
def jdk_home(artifacts, tmp_path_factory) -> Path:
    """The JDK tarball, extracted."""
    where = tmp_path_factory.mktemp("jdk")
    with tarfile.open(artifacts["jdk_tarball"]) as tar:
        tar.extractall(where, filter="tar")
    (top,) = where.iterdir()
    return top


@pytest.fixture(scope="session")
def rpm_query_db(tmp_path_factory) -> Path:
    """An rpm database for queries, so they never touch the invoking user's (~/.rpmdb on Debian)."""
    return tmp_path_factory.mktemp("rpmdb")


# --- the JDK tarball ---------------------------------------------------------------------

def test_jdk_tarball_is_one_self_contained_top_directory(artifacts):
    jdk = detect_jdk()
    with tarfile.open(artifacts["jdk_tarball"]) as tar:
        members = tar.getmembers()
    assert {m.name.split("/")[0] for m in members} == {f"jdk-{jdk.version}"}
    names = {m.name for m in members}
    assert f"jdk-{jdk.version}/bin/java" in names and f"jdk-{jdk.version}/lib/modules" in names
    assert not any("/jmods/" in n or n.endswith("src.zip") for n in names)
    for link in (m for m in members if m.issym()):
        assert not link.linkname.startswith("/"), link.name
        resolved = os.path.normpath(os.path.join(os.path.dirname(link.name), link.linkname))
        assert resolved.startswith(f"jdk-{jdk.version}/"), link.name


def test_jdk_tarball_runs_java_and_compiles_hello_world(jdk_home, tmp_path):
    version = run(jdk_home / "bin" / "java", "-version")
    assert version.returncode == 0 and detect_jdk().version in version.stderr
    (tmp_path / "Hello.java").write_text(
        'public class Hello { public static void main(String[] a) { System.out.println("hello from " '
        '+ System.getProperty("java.home")); } }\n')
    compiled = run(jdk_home / "bin" / "javac", "Hello.java", cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    hello = run(jdk_home / "bin" / "java", "-cp", tmp_path, "Hello", env={"PATH": "/nonexistent"})
    assert hello.stdout.strip() == f"hello from {jdk_home}"


def test_jdk_tls_trust_store_came_along(jdk_home):
    # Debian links lib/security/cacerts to /etc/ssl/certs/java; the artifact carries the file itself.
    cacerts = jdk_home / "lib" / "security" / "cacerts"
    assert cacerts.is_file() and not cacerts.is_symlink() and cacerts.stat().st_size > 1000


def test_building_again_reuses_every_artifact_untouched(artifacts):
    before = {kind: (p.stat().st_mtime_ns, p.stat().st_size) for kind, p in artifacts.items()}
    started = time.monotonic()
    again = ensure_artifacts(artifacts["jdk_tarball"].parent)
    elapsed = time.monotonic() - started
    assert again == artifacts
    assert {kind: (p.stat().st_mtime_ns, p.stat().st_size) for kind, p in again.items()} == before
    assert elapsed < 10, f"a cached run took {elapsed:.1f}s"


# --- the rpm -------------------------------------------------------------------------------

def test_rpm_describes_the_jdk_and_needs_nothing_from_the_system(artifacts, rpm_query_db):
    rpm = artifacts["jdk_rpm"]
    jdk = detect_jdk()
    info = run("rpm", "--dbpath", rpm_query_db, "-qip", rpm)
    assert info.returncode == 0, info.stderr
    assert f"Name        : jdk-{jdk.feature}" in info.stdout
    assert f"Version     : {jdk.version}" in info.stdout
    files = run("rpm", "--dbpath", rpm_query_db, "-qlp", rpm).stdout.splitlines()
    assert f"/usr/java/jdk-{jdk.version}/bin/java" in files
    requires = run("rpm", "--dbpath", rpm_query_db, "-qp", "--requires", rpm).stdout.splitlines()
    assert requires and all(r.startswith("rpmlib(") for r in requires), requires


def test_rpm_installs_with_plain_ivh_and_erases_cleanly(artifacts, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    jdk = detect_jdk()
    installed = run("rpm", "--root", root, "-ivh", artifacts["jdk_rpm"])
    assert installed.returncode == 0, installed.stderr
    java_dir = root / "usr" / "java"
    assert os.readlink(java_dir / "latest") == f"jdk-{jdk.version}"
    assert os.readlink(java_dir / "default") == "latest"
    assert (java_dir / "default").resolve() == (java_dir / f"jdk-{jdk.version}").resolve()
    version = run(java_dir / "default" / "bin" / "java", "-version")
    assert version.returncode == 0 and jdk.version in version.stderr

    erased = run("rpm", "--root", root, "-e", f"jdk-{jdk.feature}")
    assert erased.returncode == 0, erased.stderr
    assert list(java_dir.iterdir()) == []


# --- the deb -------------------------------------------------------------------------------

def test_deb_describes_the_jdk_with_no_dependencies(artifacts):
    deb = artifacts["jdk_deb"]
    jdk = detect_jdk()
    fields = run("dpkg-deb", "-f", deb).stdout
    assert f"Package: jdk-{jdk.feature}" in fields and f"Version: {jdk.version}" in fields
    assert "Depends" not in fields
    info = run("dpkg-deb", "-I", deb).stdout
    assert "postinst" in info and "prerm" in info
    contents = run("dpkg-deb", "-c", deb).stdout
    assert f"./usr/java/jdk-{jdk.version}/bin/java" in contents


def test_deb_installs_into_a_scratch_root_and_removes_cleanly(artifacts, tmp_path):
    root = tmp_path / "root"
    for directory in ("var/lib/dpkg/info", "var/lib/dpkg/updates"):
        (root / directory).mkdir(parents=True)
    (root / "var/lib/dpkg/status").touch()
    jdk = detect_jdk()
    # chrootless: the scratch root has no /bin/sh; the scripts honour $DPKG_ROOT instead
    installed = run("dpkg", "--root", root, "--force-script-chrootless", "-i", artifacts["jdk_deb"])
    assert installed.returncode == 0, installed.stderr
    java_dir = root / "usr" / "java"
    assert os.readlink(java_dir / "latest") == f"jdk-{jdk.version}"
    assert (java_dir / "default").resolve() == (java_dir / f"jdk-{jdk.version}").resolve()

    removed = run("dpkg", "--root", root, "--force-script-chrootless", "-r", f"jdk-{jdk.feature}")
    assert removed.returncode == 0, removed.stderr
    assert not java_dir.exists()


# --- the ZooKeeper release ------------------------------------------------------------------

@pytest.fixture
def release(artifacts, tmp_path) -> Path:
    """The ZooKeeper release, extracted."""
    with tarfile.open(artifacts["zookeeper"]) as tar:
        tar.extractall(tmp_path / "zk", filter="tar")
    (top,) = (tmp_path / "zk").iterdir()
    return top


def test_zookeeper_release_is_shaped_like_apaches(artifacts, release):
    version = detect_zookeeper().version
    assert release.name == f"apache-zookeeper-{version}-bin"
    for script in ("zkServer.sh", "zkCli.sh", "zkCleanup.sh", "zkEnv.sh"):
        assert os.access(release / "bin" / script, os.X_OK), script
    assert {"zoo_sample.cfg", "log4j.properties"} <= {p.name for p in (release / "conf").iterdir()}
    jars = list((release / "lib").iterdir())
    assert f"zookeeper-{version}.jar" in {j.name for j in jars}
    assert all(j.is_file() and not j.is_symlink() for j in jars)


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter_word(port: int, word: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(word.encode())
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def tools_without_java(tmp_path: Path) -> Path:
    """A PATH directory with just what the zk scripts call, and no java."""
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("bash", "dirname", "grep", "sed", "mkdir", "nohup", "cat", "sleep", "ps", "rm"):
        os.symlink(shutil.which(tool), tools / tool)
    assert shutil.which("java", path=str(tools)) is None
    return tools


def write_standalone_cfg(release: Path, data_dir: Path, port: int, **extra: str) -> None:
    lines = ["tickTime=2000", f"dataDir={data_dir}", f"clientPort={port}", "clientPortAddress=127.0.0.1",
             "admin.enableServer=false", "4lw.commands.whitelist=srvr,ruok,mntr",
             *(f"{key}={value}" for key, value in extra.items())]
    (release / "conf" / "zoo.cfg").write_text("\n".join(lines) + "\n")


class Server:
    """A zkServer.sh-started server that is always stopped, by pid if zkServer.sh stop fails."""

    def __init__(self, release: Path, env: dict[str, str], data_dir: Path):
        self.release, self.env, self.pidfile = release, env, data_dir / "zookeeper_server.pid"
        self.pid: int | None = None

    def zk(self, script: str, *args: object) -> subprocess.CompletedProcess:
        return run(self.release / "bin" / script, *args, env=self.env, cwd=self.release, timeout=120)

    def __enter__(self) -> "Server":
        started = self.zk("zkServer.sh", "start")
        if self.pidfile.exists():
            self.pid = int(self.pidfile.read_text())
        assert started.returncode == 0, started.stdout + started.stderr
        return self

    def __exit__(self, *exc) -> None:
        self.zk("zkServer.sh", "stop")
        if self.pid is not None:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and _alive(self.pid):
                time.sleep(0.2)
            if _alive(self.pid):
                os.kill(self.pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a stopped child of an exited zkServer.sh may linger as a zombie until reaped by init
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def wait_for_imok(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if four_letter_word(port, "ruok") == "imok":
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no imok from 127.0.0.1:{port} within {timeout}s")
        time.sleep(0.3)


@pytest.fixture
def zk_env(jdk_home, tmp_path) -> dict[str, str]:
    return {"PATH": str(tools_without_java(tmp_path)), "HOME": str(tmp_path), "USER": "zktest",
            "JAVA_HOME": str(jdk_home), "ZOO_LOG_DIR": str(tmp_path / "zk-logs")}


def test_zookeeper_serves_standalone_with_the_jdk_tarball_and_no_java_on_path(release, zk_env, tmp_path):
    port = free_loopback_port()
    data_dir = tmp_path / "data"
    write_standalone_cfg(release, data_dir, port)
    with Server(release, zk_env, data_dir) as server:
        wait_for_imok(port)
        assert "Mode: standalone" in four_letter_word(port, "srvr")

        status = server.zk("zkServer.sh", "status")
        assert status.returncode == 0 and "Mode: standalone" in status.stdout, status.stdout + status.stderr

        listing = server.zk("zkCli.sh", "-server", f"127.0.0.1:{port}", "ls", "/")
        assert "[zookeeper]" in listing.stdout, listing.stdout + listing.stderr

        assert server.pidfile.is_file()  # ZOOPIDFILE defaults to dataDir, as upstream
        server_out = list(Path(zk_env["ZOO_LOG_DIR"]).glob("zookeeper-zktest-server-*.out"))
        assert server_out and "binding to port" in server_out[0].read_text()  # ZOO_LOG_DIR honoured, log4j logs


def test_the_release_classpath_carries_the_admin_server_and_netty(release, zk_env, tmp_path):
    # Both need jars that zookeeper.jar's manifest does not list (servlet API, netty-codec...).
    port, admin_port = free_loopback_port(), free_loopback_port()
    data_dir = tmp_path / "data"
    write_standalone_cfg(release, data_dir, port, **{
        "admin.enableServer": "true", "admin.serverAddress": "127.0.0.1", "admin.serverPort": str(admin_port),
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory"})
    with Server(release, zk_env, data_dir):
        wait_for_imok(port)
        with socket.create_connection(("127.0.0.1", admin_port), timeout=5) as s:
            s.sendall(b"GET /commands/ruok HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200") and b'"command" : "ruok"' in reply


def test_zookeeper_without_java_home_or_java_on_path_says_so(release, zk_env, tmp_path):
    write_standalone_cfg(release, tmp_path / "data", free_loopback_port())
    env = {key: value for key, value in zk_env.items() if key != "JAVA_HOME"}
    result = run(release / "bin" / "zkServer.sh", "start", env=env, timeout=60)
    assert result.returncode == 1
    assert "JAVA_HOME is not set and java could not be found in PATH" in result.stderr


def test_the_shipped_list_of_zoo_cfg_keys_is_the_releases_own(artifacts, tmp_path):
    """[zookeeper.settings] is checked against a list shipped beside the renderer; made again from the
    release the lab runs (its jar's own string constants), it is the same list, and the vendor's misspelt
    key is not in it while the real one is."""
    from clusterctl.render import zk_settings
    with tarfile.open(artifacts["zookeeper"]) as tar:
        jar = next(m for m in tar.getmembers() if m.name.endswith(f"/lib/zookeeper-{zk_settings.RELEASE}.jar"))
        tar.extract(jar, tmp_path, filter="data")
    made = zk_settings.settings_of_jar(str(tmp_path / jar.name))
    assert frozenset(made) == zk_settings.known_settings()
    assert "quorum.auth.learner.saslLoginContext" in made and "quorum.auth.learner.loginContext" not in made
    assert {"maxClientCnxns", "ssl.quorum.hostnameVerification", "quorum.cnxn.threads.size"} <= set(made)
