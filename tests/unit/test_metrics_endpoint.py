"""[zookeeper] metrics: ZooKeeper's Prometheus endpoint in zoo.cfg where the release ships the provider's jar,
bound where the inventory says; refused before any host is contacted where the release lacks it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clusterctl.cli import main
from clusterctl.errors import ExitStatus, InventoryError
from clusterctl.inventory import load_inventory
from clusterctl.packages import METRICS_PROVIDER
from clusterctl.render.zoo_cfg import render_zoo_cfg
from clusterctl.steps.zookeeper import ZkInstall
from test_day2_refusals import jdk_tarball, release, tarball
from tests.fakes import refuse_connections, unreachable_inventory

METRICS = 'metrics = { port = 7000, host = "address" }'


def with_metrics(metrics: str | None = METRICS) -> str:
    """The unreachable five-host inventory, its [zookeeper] with ``metrics`` (a whole line)."""
    text = unreachable_inventory("jdk-17.0.15.tar.gz")
    return text.replace('secret_file = "super-secret"\n', f'secret_file = "super-secret"\n{metrics or ""}\n')


def release_with_provider(path: Path) -> Path:
    """A release as Apache ships it since 3.6: the Prometheus provider's jar among the modules'."""
    return tarball(path, "apache-zookeeper-3.8.0-bin", ["bin/zkEnv.sh", "bin/zkServer.sh", "lib/zookeeper-3.8.0.jar",
                                                         "lib/zookeeper-jute-3.8.0.jar",
                                                         "lib/zookeeper-prometheus-metrics-3.8.0.jar"])


@pytest.fixture
def attempts(monkeypatch) -> list[str]:
    return refuse_connections(monkeypatch)


def cluster(tmp_path: Path, metrics: str | None = METRICS, provider: bool = False) -> Path:
    jdk_tarball(tmp_path / "jdk-17.0.15.tar.gz", "jdk-17.0.15")
    path = tmp_path / "apache-zookeeper-3.8.0-bin.tar.gz"
    release_with_provider(path) if provider else release(path, "apache-zookeeper-3.8.0-bin")
    (tmp_path / "cluster.toml").write_text(with_metrics(metrics))
    return tmp_path / "cluster.toml"


def run(inventory: Path, capsys, *argv: str) -> tuple[int, str]:
    status = main([*argv, "-i", str(inventory), "--log", str(inventory.parent / "run.log")])
    return status, capsys.readouterr().err


# -- zoo.cfg ------------------------------------------------------------------------------------------

def metrics_lines(inventory, host: str) -> list[str]:
    return [line for line in render_zoo_cfg(inventory.zookeeper, inventory, host).splitlines()
            if line.startswith("metricsProvider.")]


def test_each_server_binds_the_endpoint_to_its_own_address(tmp_path):
    inv = load_inventory(cluster(tmp_path, provider=True))
    assert metrics_lines(inv, "node3") == [
        "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
        "metricsProvider.httpPort=7000", "metricsProvider.httpHost=127.0.0.13"]
    assert metrics_lines(inv, "node2")[2] == "metricsProvider.httpHost=127.0.0.12"


def test_an_address_named_is_the_one_every_server_binds_to(tmp_path):
    inv = load_inventory(cluster(tmp_path, 'metrics = { host = "127.0.0.1", port = 9141 }', provider=True))
    assert metrics_lines(inv, "node2")[1:] == ["metricsProvider.httpPort=9141", "metricsProvider.httpHost=127.0.0.1"]
    assert metrics_lines(inv, "node4") == metrics_lines(inv, "node2")


def test_without_metrics_zoo_cfg_has_no_provider(tmp_path):
    inv = load_inventory(cluster(tmp_path, None))
    assert inv.zookeeper.metrics is None and metrics_lines(inv, "node2") == []


# -- the inventory's keys -----------------------------------------------------------------------------

@pytest.mark.parametrize("metrics, message", [
    ('metrics = { prot = 7000, host = "address" }',
     "zookeeper.metrics.prot: unknown key (fix: did you mean 'port'?)"),
    ("metrics = { port = 7000 }", "zookeeper.metrics.host: missing: the endpoint has no authentication"),
    ('metrics = { port = 7000, host = "all" }', "zookeeper.metrics.host: 'all' is neither an IP address nor "
                                                '"address"'),
    ('metrics = { port = 2181, host = "address" }', "zookeeper.metrics.port: 2181 is also [zookeeper] client_port"),
    ('metrics = { port = 70000, host = "address" }', "zookeeper.metrics.port: must be a whole number from 1 to "
                                                     "65535, got 70000"),
    ("metrics = 7000", "zookeeper.metrics: must be a table, got 7000 (fix: write metrics = { port = 7000, "
                       'host = "address" })'),
])
def test_a_bad_metrics_key_is_one_line_naming_it(metrics, message, tmp_path):
    with pytest.raises(InventoryError) as raised:
        load_inventory(cluster(tmp_path, metrics))
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_tls_port_may_not_be_the_metrics_port(tmp_path):
    path = cluster(tmp_path, 'metrics = { port = 2281, host = "address" }')
    path.write_text(path.read_text() + "[tls]\nquorum = true\n")
    with pytest.raises(InventoryError, match=r"tls.secure_client_port: 2281 is also \[zookeeper\] metrics port"):
        load_inventory(path)


def test_every_interface_is_allowed_when_named_and_warned_about(tmp_path):
    inv = load_inventory(cluster(tmp_path, 'metrics = { port = 7000, host = "0.0.0.0" }'))
    assert inv.zookeeper.metrics.host == "0.0.0.0"
    assert any("0.0.0.0 opens the unauthenticated metrics endpoint" in w for w in inv.warnings)


# -- the release must ship the provider --------------------------------------------------------------

@pytest.mark.parametrize("argv", [["apply"], ["bootstrap"], ["zk", "install"], ["zk", "add", "node5"]])
def test_a_release_without_the_provider_is_refused_before_any_host(argv, tmp_path, attempts, capsys):
    inventory = cluster(tmp_path)
    if argv[-1] == "node5":  # zk add needs the joiner listed first
        inventory.write_text(inventory.read_text().replace("node4 = 3\n", "node4 = 3\nnode5 = 4\n"))
    status, err = run(inventory, capsys, *argv)
    assert status == ExitStatus.USAGE, err
    assert err == (f"clusterctl: {inventory}: zookeeper.metrics: apache-zookeeper-3.8.0-bin.tar.gz has no "
                   f"apache-zookeeper-3.8.0-bin/lib/zookeeper-prometheus-metrics-*.jar: this release does not "
                   f"ship ZooKeeper's Prometheus metrics provider (fix: {METRICS_PROVIDER.fix})\n")
    assert attempts == []


def test_an_upgrade_to_a_release_without_the_provider_is_refused_before_any_host(tmp_path, attempts, capsys):
    inventory = cluster(tmp_path, provider=True)
    new = release(tmp_path / "apache-zookeeper-3.8.1-bin.tar.gz")
    status, err = run(inventory, capsys, "zk", "upgrade", "--package", str(new))
    assert status == ExitStatus.USAGE and attempts == []
    assert "zookeeper.metrics: apache-zookeeper-3.8.1-bin.tar.gz has no apache-zookeeper-3.8.1-bin/lib/" in err


def test_a_release_with_the_provider_goes_on_to_the_hosts(tmp_path, attempts, capsys):
    status, err = run(cluster(tmp_path, provider=True), capsys, "zk", "install")
    assert "zookeeper.metrics" not in err and attempts  # past the check: it tried the hosts (none answer)
    assert status == ExitStatus.HOST_FAILURE


def test_the_install_step_refuses_metrics_only_with_a_release_lacking_the_provider(tmp_path):
    inv = load_inventory(cluster(tmp_path))
    assert "this release does not ship ZooKeeper's Prometheus metrics provider" in str(ZkInstall().refusal(inv))
    (tmp_path / "off").mkdir()
    assert ZkInstall().refusal(load_inventory(cluster(tmp_path / "off", None))) is None


def test_the_lab_built_release_lacks_the_provider_and_apply_is_refused_with_it(tmp_path, attempts, capsys):
    """The release the lab builds from Debian's zookeeper package (when this machine has built it) has no
    provider jar: apply with metrics on is refused with it, before any host."""
    built = Path(os.environ.get("CLUSTERCTL_ARTIFACTS_CACHE", "artifacts")).resolve() / \
        "apache-zookeeper-3.8.0-bin.tar.gz"
    if not built.exists():
        pytest.skip("no lab artifacts built on this machine")
    inventory = cluster(tmp_path)
    inventory.write_text(inventory.read_text().replace('package = "apache-zookeeper-3.8.0-bin.tar.gz"',
                                                       f'package = "{built}"'))
    status, err = run(inventory, capsys, "apply")
    assert status == ExitStatus.USAGE and attempts == [], err
    assert err.startswith(f"clusterctl: {inventory}: zookeeper.metrics: apache-zookeeper-3.8.0-bin.tar.gz has no "
                          f"apache-zookeeper-3.8.0-bin/lib/zookeeper-prometheus-metrics-*.jar") and err.count("\n") == 1


def test_plan_shows_the_refusal_on_every_server(tmp_path):
    inv = load_inventory(cluster(tmp_path))
    from test_zk_install import FRESH  # new nodes: nothing installed yet
    plans = ZkInstall().decide(inv, {host: FRESH for host in inv.zookeeper.hosts})
    assert {host: "zookeeper.metrics" in plan.problem for host, plan in plans.items()} == {
        "node2": True, "node3": True, "node4": True}
