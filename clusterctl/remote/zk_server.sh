# Starting and stopping one ZooKeeper server on its node: through systemd where it runs the
# node, else with zkServer.sh as the service account.
#
#   bash -s -- start MANAGER UNIT ZOOKEEPER_HOME JAVA_HOME PID_FILE USER CONF_DIR LOG_DIR
#   bash -s -- stop MANAGER UNIT PID_FILE GRACE_SECONDS
#   bash -s -- restart MANAGER UNIT ZOOKEEPER_HOME JAVA_HOME PID_FILE USER CONF_DIR LOG_DIR GRACE_SECONDS
#
# Started by zkServer.sh, the server gets the same config directory, log directory and pid file
# as under the unit, passed explicitly (ZOOCFGDIR, ZOO_LOG_DIR, ZOOPIDFILE): a release's own
# defaults are its conf/ and logs/ (root's, and without our zoo.cfg), and zkServer.sh finds the
# pid file's directory by reading dataDir from the zoo.cfg it found. java.env in CONF_DIR brings
# the rest of the environment (heap, JVM flags, the super user's digest).
#
# MANAGER is "systemd" or "zkserver". A stop also ends a server started by zkServer.sh
# outside the unit (a cluster set up before the service, or by hand), so a restart
# through systemd is how such a server is converted. The last line printed is
# "running PID", "started PID", "stopped PID" or "not running". Each action is a
# function that returns, so a restart is a stop and then a start, whatever the stop found.
set -u

is_server() {
    [ -n "$1" ] && [ "$1" != 0 ] && kill -0 "$1" 2>/dev/null && grep -qa QuorumPeerMain "/proc/$1/cmdline"
}

unit_pid() {
    local pid
    pid=$(systemctl show -p MainPID --value "$1" 2>/dev/null)
    is_server "$pid" && echo "$pid"
}

file_pid() {
    local pid
    pid=$(cat -- "$1" 2>/dev/null) && is_server "$pid" && echo "$pid"
}

# JAVA_HOME is set here because a non-login SSH session never reads /etc/profile.d.
# On failure the tail of the server's log says why.
start_server() {
    local manager=$1 unit=$2 home=$3 java=$4 pid_file=$5 user=$6 conf_dir=$7 log_dir=$8 pid waited=0
    if [ "$manager" = systemd ]; then
        if pid=$(unit_pid "$unit"); then echo "running $pid"; return 0; fi
        systemctl reset-failed "$unit" 2>/dev/null
        if ! systemctl start "$unit"; then
            journalctl -u "$unit" -n 15 --no-pager >&2
            return 1
        fi
        # Type=simple: started means forked; the JVM shows up a moment later.
        until pid=$(unit_pid "$unit"); do
            if [ "$waited" -ge 100 ]; then
                echo "$unit started but no server process came up:" >&2
                journalctl -u "$unit" -n 15 --no-pager >&2
                return 1
            fi
            sleep 0.1
            waited=$((waited + 1))
        done
        echo "started $pid"
        return 0
    fi
    if pid=$(file_pid "$pid_file"); then echo "running $pid"; return 0; fi
    local out
    cd / || return 1
    if ! out=$(runuser -u "$user" -- env JAVA_HOME="$java" ZOOCFGDIR="$conf_dir" ZOO_LOG_DIR="$log_dir" \
            ZOOPIDFILE="$pid_file" "$home/bin/zkServer.sh" start 2>&1); then
        echo "$out" >&2
        tail -n 15 "$log_dir"/zookeeper*.out >&2 2>/dev/null
        return 1
    fi
    # zkServer.sh says STARTED a second after forking, when the JVM may still die on a bad config.
    if ! pid=$(file_pid "$pid_file"); then
        echo "zkServer.sh started a server that is no longer running:" >&2
        tail -n 15 "$log_dir"/zookeeper*.out >&2 2>/dev/null
        return 1
    fi
    echo "started $pid"
}

# SIGTERM first and wait until it has exited (SIGKILL after the grace period): that is what
# lets a restart bind the ports again.
end_process() {
    local pid=$1 grace=$2 waited=0
    kill "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((grace * 10)) ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid"
        sleep 0.2
    fi
}

stop_server() {
    local manager=$1 unit=$2 pid_file=$3 grace=$4 stopped=""
    if [ "$manager" = systemd ]; then
        local pid
        if pid=$(unit_pid "$unit"); then stopped=$pid; fi
        systemctl stop "$unit" 2>/dev/null
    fi
    local legacy
    if legacy=$(file_pid "$pid_file"); then
        end_process "$legacy" "$grace"
        stopped=${stopped:-$legacy}
    fi
    rm -f -- "$pid_file"
    if [ -n "$stopped" ]; then echo "stopped $stopped"; else echo "not running"; fi
}

main() {
    local action=$1
    shift
    case $action in
        start) start_server "$@" ;;
        stop) stop_server "$@" ;;
        restart) stop_server "$1" "$2" "$5" "$9" && start_server "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" ;;
        *) echo "zk_server.sh: unknown action $action" >&2; return 2 ;;
    esac
}

main "$@"
