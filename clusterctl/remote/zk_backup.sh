# A copy of a ZooKeeper server's data taken while it runs, checked, and put back.
#
#   bash -s -- list DATA_DIR DATA_LOG_DIR      what there is: one line per file of version-2
#       snapshot NAME SIZE complete|partial     (partial: ZooKeeper's end mark is not written yet)
#       log NAME SIZE
#   bash -s -- cat FILE                          the file's bytes on stdout, as they are now
#   bash -s -- verify JAVA_HOME ZK_HOME LOADER_SIZE [NAME SIZE SHA256]...
#       stdin after this script: the loader's Java source, then each file's bytes; they are put in a
#       directory of their own (removed afterwards), checked by sha256, and loaded with the release's
#       own classes as a server loads its data at start; the loader prints (see backup_load.java)
#   bash -s -- restore DATA_DIR DATA_LOG_DIR STAMP [KIND NAME SIZE SHA256]...
#       (the server is stopped) DATA_DIR, and DATA_LOG_DIR when it lies elsewhere, moved aside to
#       DIR.before-restore-STAMP (never deleted); new ones made with the same owners and modes,
#       holding myid, the epoch files and the files on stdin (KIND snapshot into DATA_DIR/version-2,
#       log into DATA_LOG_DIR/version-2), each checked by sha256. Prints: restored ASIDE
set -euo pipefail

hash_of() {
    local h
    if command -v openssl >/dev/null; then h=$(openssl dgst -sha256 -r "$1"); else h=$(sha256sum "$1"); fi
    echo "${h%% *}"
}

list() {
    local dir f name size
    for dir in "$1/version-2" "$2/version-2"; do
        [ -d "$dir" ] || continue
        for f in "$dir"/snapshot.* "$dir"/log.*; do
            [ -f "$f" ] || continue
            name=${f##*/}
            size=$(stat -c %s "$f")
            case $name in
                snapshot.*)
                    # ZooKeeper's own check (SnapStream.isValidSnapshot): the last 5 bytes are int 1 and '/'.
                    if [ "$size" -ge 10 ] && [ "$(tail -c 5 "$f" | od -An -tx1 | tr -d ' \n')" = 000000012f ]; then
                        echo "snapshot $name $size complete"
                    else
                        echo "snapshot $name $size partial"
                    fi ;;
                log.*) echo "log $name $size" ;;
            esac
        done
    done | sort -u
}

# One file of SIZE bytes from stdin into TARGET, checked against SHA256.
receive() {
    local target=$1 size=$2 want=$3 got
    head -c "$size" > "$target.part"
    got=$(hash_of "$target.part")
    if [ "$got" != "$want" ]; then
        rm -f -- "$target.part"
        echo "sha256 of ${target##*/} is $got, not $want (the stream ended early?)" >&2
        return 1
    fi
    mv -f -- "$target.part" "$target"
}

verify() {
    local java_home=$1 zk_home=$2 loader_size=$3
    shift 3
    tmp=$(mktemp -d /tmp/clusterctl-backup-check.XXXXXX)  # global: the EXIT trap runs after this returns
    trap 'rm -rf -- "$tmp"' EXIT
    mkdir -p "$tmp/data/version-2"
    head -c "$loader_size" > "$tmp/BackupLoad.java"
    while [ $# -ge 3 ]; do
        receive "$tmp/data/version-2/$1" "$2" "$3"
        shift 3
    done
    # Java's single-file source launch: the loader is compiled in memory against the release's jars.
    "$java_home/bin/java" -Xmx512m -Dzookeeper.snapshot.trust.empty=false -cp "$zk_home/lib/*" \
        "$tmp/BackupLoad.java" "$tmp/data" 2> "$tmp/stderr" || {
        tail -n 5 "$tmp/stderr" >&2
        return 1
    }
}

same_owner() {  # mkdir DIR with the owner, group and mode of LIKE
    mkdir -p -- "$1"
    chown "$(stat -c %u:%g "$2")" "$1"
    chmod "$(stat -c %a "$2")" "$1"
}

restore() {
    local data_dir=$1 log_dir=$2 stamp=$3
    shift 3
    local aside=$data_dir.before-restore-$stamp log_aside
    [ -e "$aside" ] && { echo "$aside exists already" >&2; return 1; }
    mv -- "$data_dir" "$aside"
    same_owner "$data_dir" "$aside"
    case $log_dir in
        "$data_dir"/*) log_aside=$aside/${log_dir#"$data_dir"/} ;;
        *) log_aside=$log_dir.before-restore-$stamp
           [ -d "$log_dir" ] && mv -- "$log_dir" "$log_aside" ;;
    esac
    [ -d "$aside/version-2" ] || same_owner "$aside/version-2" "$aside"
    same_owner "$data_dir/version-2" "$aside/version-2"
    if [ -d "$log_aside" ]; then
        same_owner "$log_dir" "$log_aside"
        same_owner "$log_dir/version-2" "$log_aside/version-2" 2>/dev/null ||
            same_owner "$log_dir/version-2" "$log_aside"
    else
        same_owner "$log_dir" "$data_dir"
        same_owner "$log_dir/version-2" "$data_dir/version-2"
    fi
    [ -f "$aside/myid" ] && cp -p -- "$aside/myid" "$data_dir/myid"
    # The epochs the server had reached: the restored ensemble elects past them, so its zxids stay above
    # every zxid a client has seen and old clients' sessions are not refused as coming from the future.
    local f
    for f in acceptedEpoch currentEpoch; do
        [ -f "$aside/version-2/$f" ] && cp -p -- "$aside/version-2/$f" "$data_dir/version-2/$f"
    done
    local owner target
    owner=$(stat -c %u:%g "$data_dir/version-2")
    while [ $# -ge 4 ]; do
        case $1 in
            snapshot) target=$data_dir/version-2/$2 ;;
            log) target=$log_dir/version-2/$2 ;;
            *) echo "unknown kind $1" >&2; return 1 ;;
        esac
        receive "$target" "$3" "$4"
        chown "$owner" "$target"
        chmod 640 "$target"
        shift 4
    done
    sync -f "$data_dir/version-2" 2>/dev/null || sync
    echo "restored $aside"
}

main() {
    local action=$1
    shift
    case $action in
        list) list "$@" ;;
        cat) exec cat -- "$1" ;;
        verify) verify "$@" ;;
        restore) restore "$@" ;;
        *) echo "unknown action $action" >&2; exit 2 ;;
    esac
}

main "$@"
