"""[zookeeper.settings]: more zoo.cfg keys, each checked against the keys the release reads (a misspelt one
would silently become an unused system property), rendered into zoo.cfg in the inventory's order."""

from __future__ import annotations

import pytest

from clusterctl.errors import ExitStatus, InventoryError
from clusterctl.inventory import load_inventory
from clusterctl.render.zk_settings import is_known, known_settings, property_problem, setting_problem
from clusterctl.render.zoo_cfg import changed_settings, render_zoo_cfg
from test_inventory import zk_inventory, write

SERVERS = "node2 = 1\nnode3 = 2\nnode4 = 3"


def load(tmp_path, extra: str):
    return load_inventory(write(tmp_path, zk_inventory(tmp_path, SERVERS, extra)))


def refusal(tmp_path, extra: str) -> InventoryError:
    with pytest.raises(InventoryError) as info:
        load(tmp_path, extra)
    return info.value


def test_settings_load_quoted_or_dotted_and_render_in_order(tmp_path):
    inv = load(tmp_path, '[zookeeper.settings]\n"maxClientCnxns" = 120\ncommitProcessor.numWorkerThreads = 20\n'
                         'localSessionsEnabled = true\nnetty.server.outstandingHandshake.limit = 7')
    spec = inv.zookeeper
    assert spec.settings == (("maxClientCnxns", "120"), ("commitProcessor.numWorkerThreads", "20"),
                             ("localSessionsEnabled", "true"), ("netty.server.outstandingHandshake.limit", "7"))
    lines = render_zoo_cfg(spec, inv, "node2").splitlines()
    assert lines[-4:] == ["maxClientCnxns=120", "commitProcessor.numWorkerThreads=20", "localSessionsEnabled=true",
                          "netty.server.outstandingHandshake.limit=7"]


def test_a_changed_setting_is_a_changed_zoo_cfg(tmp_path):
    before = load(tmp_path, '[zookeeper.settings]\nmaxClientCnxns = 60')
    after = load(tmp_path, '[zookeeper.settings]\nmaxClientCnxns = 120')
    assert changed_settings(render_zoo_cfg(before.zookeeper, before, "node2"),
                            render_zoo_cfg(after.zookeeper, after, "node2")) == ["maxClientCnxns 60 → 120"]


@pytest.mark.parametrize("extra, key, words", [
    # The vendor's misspelling: ZooKeeper would make it zookeeper.quorum.auth.learner.loginContext, unused.
    ('[zookeeper.settings]\nquorum.auth.learner.loginContext = "QuorumLearner"',
     'zookeeper.settings."quorum.auth.learner.loginContext"',
     "did you mean 'quorum.auth.learner.saslLoginContext'? (clusterctl writes it itself: set it through [sasl]"),
    ('[zookeeper.settings]\nmaxClientCnxn = 5', "zookeeper.settings.maxClientCnxn", "maxClientCnxns"),
    ('[zookeeper.settings]\nnoSuchThingAtAll = 5', "zookeeper.settings.noSuchThingAtAll", "administrator's guide"),
    ('[zookeeper.settings]\nsnapCount = 5', "zookeeper.settings.snapCount", "[zookeeper] snap_count"),
    ('[zookeeper.settings]\n"ssl.quorum.hostnameVerification" = false',
     'zookeeper.settings."ssl.quorum.hostnameVerification"', "[tls]"),
    ('[zookeeper.settings]\n"server.9" = "x:1:2"', 'zookeeper.settings."server.9"', "[zookeeper.servers]"),
    ('[zookeeper.settings]\n"quorum.auth.enableSasl" = true', 'zookeeper.settings."quorum.auth.enableSasl"',
     "[sasl] quorum"),
    ('[zookeeper.settings]\n"authProvider.sasl" = "x"', 'zookeeper.settings."authProvider.sasl"', "[sasl] client"),
    ('[zookeeper.settings]\nmaxClientCnxns = [1, 2]', "zookeeper.settings.maxClientCnxns", "one value"),
    ('[zookeeper.settings]\nmaxClientCnxns = "1\\n2"', "zookeeper.settings.maxClientCnxns", "control"),
    ('[zookeeper.settings]\n"a=b" = 1', 'zookeeper.settings."a=b"', "zoo.cfg key"),
    ('settings = 5', "zookeeper.settings", "table"),
    ('jvm_flags = ["-Dzookeeper.maxClientCnxn=5"]', "zookeeper.jvm_flags", "-Dzookeeper.maxClientCnxns"),
])
def test_a_bad_setting_is_one_line_naming_its_key_and_fix(tmp_path, extra, key, words):
    error = refusal(tmp_path, extra)
    assert error.key == key and error.exit_status == ExitStatus.USAGE
    assert words in str(error) and "\n" not in str(error)


def test_families_and_other_jvm_properties_pass():
    assert setting_problem("authProvider.1") is None
    assert setting_problem("quorum.auth.learner.saslLoginContext") == ("is written by clusterctl itself",
                                                                       "set it through [sasl] quorum")
    assert setting_problem("commitProcessor.numWorkerThreads") is None
    assert property_problem("-Dzookeeper.forceSync=no") is None
    assert property_problem("-Djute.maxbuffer=4194304") is None  # not a zookeeper.* property: not ours to judge
    # Read by the release's log4j.properties and zkEnv.sh, not by its classes.
    assert property_problem("-Dzookeeper.log.threshold=DEBUG") is None
    assert property_problem("-Dzookeeper.root.logger=INFO,CONSOLE") is None


@pytest.mark.parametrize("quorum", [1, 2])
def test_every_key_clusterctl_writes_itself_is_one_the_release_reads(tmp_path, quorum):
    """A typo in the renderer would be silently ignored by ZooKeeper too; fips-mode alone is written for a
    later release (3.9 reads it) and ignored by 3.8."""
    from clusterctl.render.key_values import parse_key_values
    from clusterctl.tls.phases import TlsState
    inv = load(tmp_path, 'admin_server = "localhost"\nmetrics = { port = 7000, host = "address" }\n'
                         '[tls]\nquorum = true\nclient = "optional"')
    text = render_zoo_cfg(inv.zookeeper, inv, "node2", TlsState(quorum=quorum, client=True))
    written = set(parse_key_values(text)) - {"fips-mode"}
    assert len(written) > 25 and {"admin.serverAddress", "metricsProvider.httpPort", "sslQuorum"} & written
    assert [key for key in written if not is_known(key)] == []
