# Run by zookeeper.service before its server starts (ExecStartPre), as the service user: refuses to start a
# server that the ensemble has left behind, so that a machine lost in a recovery (clusterctl zk recover) and
# booted again later does not start its old server with its old data and membership by itself.
#
#   bash zk_member_guard.sh ZOO_CFG
#
# The server's own membership is the dynamic file ZOO_CFG names; its version is the file name's suffix
# (zoo.cfg.dynamic.<hex>), which ZooKeeper writes once the server has run in an ensemble. A membership
# clusterctl wrote (no suffix: a new server, or one being added) is never refused. Otherwise every other
# server of that membership whose client port listens beyond its own loopback is asked "conf"; one that
# answers with a newer membership (a higher version) in which this server is not refuses the start:
# exit 1, the reason on stderr (the journal). When no other server answers (the whole ensemble booting
# after a power cut) the server starts, as it always did.
set -uo pipefail

setting() {  # the last value of KEY= in FILE
    sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$2" 2>/dev/null | tail -n 1
}

ask_conf() {  # HOST PORT: the server's answer to conf, or nothing
    # shellcheck disable=SC2016  # expanded by the inner bash, from its own arguments
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf conf >&3 && cat <&3' _ "$1" "$2" 2>/dev/null
}

main() {
    local zoo_cfg=$1 dynamic data_dir myid version key value id host client address port answer theirs
    dynamic=$(setting dynamicConfigFile "$zoo_cfg")
    data_dir=$(setting dataDir "$zoo_cfg")
    case ${dynamic##*/} in
        zoo.cfg.dynamic.*) version=${dynamic##*.} ;;
        *) exit 0 ;;  # written by clusterctl: nothing has left it behind
    esac
    [[ $version =~ ^[0-9a-fA-F]+$ ]] || exit 0
    myid=$(tr -d '[:space:]' < "$data_dir/myid" 2>/dev/null) || exit 0
    while IFS='=' read -r key value; do
        [[ $key =~ ^server\.([0-9]+)$ ]] || continue
        id=${BASH_REMATCH[1]}
        [ "$id" = "$myid" ] && continue
        host=${value%%:*}
        client=${value#*;}
        [ "$client" = "$value" ] && continue  # no client port in the line
        address=${client%:*}
        port=${client##*:}
        case $address in 127.*|localhost|::1) continue ;; esac  # not reachable from here
        answer=$(ask_conf "$host" "$port")
        theirs=$(sed -n 's/^version=\([0-9a-fA-F]*\)$/\1/p' <<< "$answer" | tail -n 1)
        [ -n "$theirs" ] || continue
        if (( 16#$theirs > 16#$version )) && ! grep -q "^server\.$myid=" <<< "$answer"; then
            echo "not started: server.$myid was left out of the ensemble while it was away ($host holds membership" \
                 "version $theirs without it; this server has version $version). Its data is as it was." \
                 "Run clusterctl zk recover (or zk add) to set it aside and add this server again." >&2
            exit 1
        fi
    done < <(cat -- "$dynamic"; echo)  # ZooKeeper writes the file without a last newline
    exit 0
}

main "$@"
