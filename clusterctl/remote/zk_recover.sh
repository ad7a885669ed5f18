# What a server that lost its quorum holds, and its data set aside for zk recover.
#
#   bash -s -- lastzxid JAVA_HOME ZK_HOME DATA_DIR DATA_LOG_DIR LOADER_SIZE
#       stdin after this script: the loader's Java source (backup_load.java). The server's snapshots
#       and transaction logs are linked (never copied, never written) into a scratch directory
#       (removed afterwards) and loaded there with the release's own classes, as the server loads its
#       data at start. Prints "zxid 0x<last zxid>" and "count <znodes>", or "empty" without data.
#       Changes nothing of the server's (its data is read through the links; what the load might
#       write goes to the scratch directory).
#   bash -s -- set-aside DATA_DIR DATA_LOG_DIR CONF_DIR ASIDE keep|clear
#       (the server is stopped) ASIDE made; the membership (CONF_DIR/zoo.cfg and zoo.cfg.dynamic*)
#       moved into ASIDE/conf; with clear, DATA_DIR (and DATA_LOG_DIR when it lies elsewhere) moved
#       into ASIDE too, nothing deleted. Prints: aside ASIDE
set -euo pipefail

lastzxid() {
    local java_home=$1 zk_home=$2 data_dir=$3 log_dir=$4 loader_size=$5 f found=0
    tmp=$(mktemp -d /tmp/clusterctl-recover-read.XXXXXX)  # global: the EXIT trap runs after this returns
    trap 'rm -rf -- "$tmp"' EXIT
    mkdir -p "$tmp/data/version-2"
    head -c "$loader_size" > "$tmp/BackupLoad.java"
    for f in "$data_dir"/version-2/snapshot.* "$log_dir"/version-2/log.*; do
        [ -f "$f" ] || continue
        ln -s -- "$f" "$tmp/data/version-2/${f##*/}"
        found=1
    done
    if [ "$found" = 0 ]; then
        echo "empty"
        return 0
    fi
    "$java_home/bin/java" -Xmx512m -Dzookeeper.snapshot.trust.empty=false -cp "$zk_home/lib/*" \
        "$tmp/BackupLoad.java" "$tmp/data" --summary 2> "$tmp/stderr" || {
        tail -n 5 "$tmp/stderr" >&2
        return 1
    }
}

set_aside() {
    local data_dir=$1 log_dir=$2 conf_dir=$3 aside=$4 how=$5 file
    [ -e "$aside" ] && { echo "$aside exists already" >&2; return 1; }
    mkdir -p -- "$aside/conf"
    for file in "$conf_dir"/zoo.cfg "$conf_dir"/zoo.cfg.dynamic*; do
        if [ -e "$file" ]; then mv -- "$file" "$aside/conf/"; fi
    done
    if [ "$how" = clear ]; then
        if [ -d "$data_dir" ]; then mv -- "$data_dir" "$aside/data"; fi
        case $log_dir in
            "$data_dir"/*) ;;
            *) if [ -d "$log_dir" ]; then mv -- "$log_dir" "$aside/data-log-dir"; fi ;;
        esac
    fi
    sync -f "$aside" 2>/dev/null || sync
    echo "aside $aside"
}

main() {
    local action=$1
    shift
    case $action in
        lastzxid) lastzxid "$@" ;;
        set-aside) set_aside "$@" ;;
        *) echo "zk_recover.sh: unknown action $action" >&2; exit 2 ;;
    esac
}

main "$@"
