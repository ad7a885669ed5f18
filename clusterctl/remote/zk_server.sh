# Starting and stopping one ZooKeeper server on its node, the way zkServer.sh does it.
#
#   bash -s -- start ZOOKEEPER_HOME JAVA_HOME PID_FILE
#   bash -s -- stop PID_FILE GRACE_SECONDS
#   bash -s -- restart ZOOKEEPER_HOME JAVA_HOME PID_FILE GRACE_SECONDS
#
# zkServer.sh keeps the server's pid in PID_FILE; that file is how a running
# server is told too. The last line printed is "running PID", "started PID",
# "stopped PID" or "not running". Each action is a function that returns, so a
# restart is a stop and then a start, whatever the stop found.
set -u

running_pid() {
    local pid
    pid=$(cat -- "$1" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
        grep -qa QuorumPeerMain "/proc/$pid/cmdline" && echo "$pid"
}

# JAVA_HOME is set here because a non-login SSH session never reads /etc/profile.d.
# On failure the tail of the server's console log says why.
start_server() {
    local home=$1 java=$2 pid_file=$3 pid out
    if pid=$(running_pid "$pid_file"); then
        echo "running $pid"
        return 0
    fi
    cd / || return 1
    if ! out=$(JAVA_HOME=$java "$home/bin/zkServer.sh" start 2>&1); then
        echo "$out" >&2
        tail -n 15 "$home"/logs/zookeeper-*-server-*.out >&2 2>/dev/null
        return 1
    fi
    echo "started $(cat -- "$pid_file")"
}

# SIGTERM first, as zkServer.sh stop does, and wait until it has exited (SIGKILL after the
# grace period): that is what lets a restart bind the ports again.
stop_server() {
    local pid_file=$1 grace=$2 pid waited=0
    if ! pid=$(running_pid "$pid_file"); then
        rm -f -- "$pid_file"
        echo "not running"
        return 0
    fi
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((grace * 10)) ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid"
        sleep 0.2
    fi
    rm -f -- "$pid_file"
    echo "stopped $pid"
}

main() {
    local action=$1
    shift
    case $action in
        start) start_server "$@" ;;
        stop) stop_server "$@" ;;
        restart) stop_server "$3" "$4" && start_server "$1" "$2" "$3" ;;
        *) echo "zk_server.sh: unknown action $action" >&2; return 2 ;;
    esac
}

main "$@"
