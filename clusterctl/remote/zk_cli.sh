# zkCli.sh against the node's own server, for one command.
#
#   bash -s -- JAVA_HOME ZOOKEEPER_HOME CLIENT_PORT CLIENT_JVMFLAGS ARG...
#
# JAVA_HOME is set here because a non-login SSH session never reads /etc/profile.d. Run as the
# service account where zkCli logs in with SASL (CLIENT_JVMFLAGS names the JAAS file, which only
# that account reads): from /, since it may not read the login user's home.
set -u

main() {
    local java=$1 home=$2 port=$3 flags=$4
    shift 4
    cd / || return 1
    JAVA_HOME=$java CLIENT_JVMFLAGS=$flags "$home/bin/zkCli.sh" -server "127.0.0.1:$port" "$@" </dev/null
}

main "$@"
