"""clusterctl zk cli where every session must log in ([sasl] client = "required"): zkCli.sh runs as the
service account with the JAAS file's Client section (clusterctl's own user), never a password in its
command line; elsewhere it runs as before."""

from __future__ import annotations

import shlex
from types import SimpleNamespace

from clusterctl.cli.zk import QUIET_CLIENT, _run_cli, zkcli_command
from clusterctl.render.jaas import SaslPasswords, render_jaas
from test_sasl_logic import sasl_inventory

LOGIN = "-Djava.security.auth.login.config=/etc/zookeeper/jaas.conf -Dzookeeper.sasl.clientconfig=Client"


def test_the_jaas_file_has_a_client_section_for_the_login_user_only_when_given_one():
    text = render_jaas(SaslPasswords("q-pw", (("clusterctl", "c-pw"),), login=("clusterctl", "c-pw")))
    assert 'Client {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n    username="clusterctl"\n' \
           '    password="c-pw";\n};' in text
    assert "Client {" not in render_jaas(SaslPasswords("q-pw", (("clusterctl", "c-pw"),)))


def test_the_servers_jaas_file_logs_in_as_clusterctl_only_where_every_session_must(tmp_path, monkeypatch):
    from clusterctl.zk import sasl
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    required = sasl_inventory(quorum=True, client="required", users=("app",))
    made = sasl.make_passwords(required)
    assert made.login == ("clusterctl", dict(made.users)["clusterctl"])
    assert 'username="clusterctl"' in sasl.wanted_jaas(required, needed=True)
    # "optional" keeps the file it had (no Client section, so no restart for it).
    optional = sasl_inventory(quorum=True, client="optional", users=("app",))
    assert sasl.existing_passwords(optional).login is None
    assert "Client {" not in sasl.wanted_jaas(optional, needed=True)


def test_the_interactive_zkcli_logs_in_as_the_service_account_where_every_session_must():
    command = zkcli_command(sasl_inventory(client="required", users=("app",)), "root")
    assert command.startswith("cd / && exec runuser -u zookeeper -- env ")
    words = shlex.split(command.split("exec ", 1)[1])
    assert f"CLIENT_JVMFLAGS={QUIET_CLIENT} {LOGIN}" in words
    assert words[-3:] == ["/opt/zookeeper/bin/zkCli.sh", "-server", "127.0.0.1:2181"]
    assert "exec sudo -u zookeeper env " in zkcli_command(sasl_inventory(client="required"), "deploy")
    assert "password" not in command.lower()


def test_the_interactive_zkcli_is_unchanged_where_sessions_need_not_log_in():
    for inventory in (sasl_inventory(), sasl_inventory(quorum=True, client="optional", users=("app",))):
        command = zkcli_command(inventory, "root")
        assert command.startswith("exec env ") and "runuser" not in command and "jaas" not in command
        assert f"CLIENT_JVMFLAGS={QUIET_CLIENT}" in shlex.split(command)


class Context:
    """A host context that records the remote script it is asked to run."""

    def __init__(self, inventory):
        self.session = SimpleNamespace(inventory=inventory)
        self.ran = None

    def run_script(self, name, *args, become=None, **kwargs):
        self.ran = (name, args, become)
        return SimpleNamespace(stdout="", stderr="", exited=0)


def test_zkcli_for_one_command_runs_as_the_service_account_with_the_login_flags_where_required():
    ctx = Context(sasl_inventory(quorum=True, client="required", users=("app",)))
    _run_cli(ctx, ["get", "/x"])
    name, args, become = ctx.ran
    assert (name, become) == ("zk_cli.sh", "zookeeper")
    assert args[2:] == (2181, f"{QUIET_CLIENT} {LOGIN}", "get", "/x")
    ctx = Context(sasl_inventory(quorum=True, client="optional", users=("app",)))
    _run_cli(ctx, ["ls", "/"])
    assert ctx.ran[2] is None and ctx.ran[1][3] == QUIET_CLIENT
