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
#   bash -s -- restore DATA_DIR DATA_LOG_DIR STAMP EPOCH [KIND NAME SIZE SHA256]...
#       (the server is stopped) DATA_DIR, and DATA_LOG_DIR when it lies elsewhere, moved aside to
#       DIR.before-restore-STAMP (never deleted); new ones made with the same owners and modes,
#       holding myid, the epoch files (the server's own, raised to EPOCH, the backup's last) and the files on stdin (KIND snapshot into DATA_DIR/version-2,
#       log into DATA_LOG_DIR/version-2), each checked by sha256. Prints: restored ASIDE
#   bash -s -- needed DATA_DIR DATA_LOG_DIR     the files a copy needs, "KIND NAME SIZE" (as take picks them)
#   bash zk_backup.sh take DATA_DIR DATA_LOG_DIR JAVA_HOME ZK_HOME CLIENT_PORT ROOT KEEP CLUSTER SERVER MEMBERS LOADER
#       (installed on the node, run by its clusterctl-backup-CLUSTER.service) a backup taken on the node
#       itself while its server serves: the files zk backup would copy, into ROOT/<time>.partial, loaded
#       with LOADER and the release as zk backup checks its copy, manifest.json written (MEMBERS:
#       host=id,...), renamed to ROOT/<time>; then only the newest KEEP backups under ROOT are kept.
#   bash -s -- schedule-on TIMER                 daemon-reload, enable and start TIMER
#   bash -s -- schedule-off BASE LIB_DIR         BASE.timer stopped and disabled, BASE.service and .timer
#       removed; LIB_DIR too when no other clusterctl-backup-*.service is left. Backups stay.
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
    local data_dir=$1 log_dir=$2 stamp=$3 epoch=$4
    shift 4
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
    # Raised to the backup's own (another ensemble's may be ahead): a server refuses to start with a
    # current epoch older than its last zxid's.
    local f own owner target
    owner=$(stat -c %u:%g "$data_dir/version-2")
    for f in acceptedEpoch currentEpoch; do
        own=$(cat -- "$aside/version-2/$f" 2>/dev/null || echo 0)
        printf '%s' "$(( own > epoch ? own : epoch ))" > "$data_dir/version-2/$f"
        chown "$owner" "$data_dir/version-2/$f"
    done
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

json_str() {  # $1 as a JSON string (inventory names and paths: no control characters)
    local s=${1//\\/\\\\}
    printf '"%s"' "${s//\"/\\\"}"
}

# Whether the node's own server serves (srvr on its client port says a role).
serving() {
    local answer
    # shellcheck disable=SC2016  # $1 is the inner shell's: the port, passed as its argument
    answer=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf srvr >&3; cat <&3' _ "$1" 2>/dev/null) || true
    grep -Eq '^Mode: (leader|follower|observer|standalone)' <<< "$answer"
}

# The files a consistent copy needs (backup.needed_files' rule): "KIND NAME SIZE" for the newest complete
# snapshot, then the newest log at or before its zxid and every later log, oldest first.
needed() {
    local kind name size state snap="" snap_zxid=-1 zxid first=-1
    local -a logs=()
    while read -r kind name size state; do
        zxid=$((16#${name#*.}))
        if [ "$kind" = snapshot ] && [ "$state" = complete ] && [ "$zxid" -gt "$snap_zxid" ]; then
            snap="snapshot $name $size" snap_zxid=$zxid
        elif [ "$kind" = log ]; then
            logs+=("$zxid $name $size")
        fi
    done < <(list "$1" "$2")
    [ -n "$snap" ] || { echo "no complete snapshot in $1: nothing to copy" >&2; return 1; }
    echo "$snap"
    while read -r zxid name size; do
        [ -n "$zxid" ] || continue
        if [ "$zxid" -le "$snap_zxid" ]; then first=$zxid; fi
    done < <(printf '%s\n' "${logs[@]}" | sort -n)
    printf '%s\n' "${logs[@]}" | sort -n | while read -r zxid name size; do
        [ -n "$zxid" ] && [ "$zxid" -ge "$first" ] && echo "log $name $size"
    done
    return 0
}

take() {
    local data_dir=$1 log_dir=$2 java_home=$3 zk_home=$4 port=$5 root=$6 keep=$7 cluster=$8 server=$9
    local members=${10} loader=${11}
    serving "$port" || { echo "the server on port $port does not serve (no quorum, or down): no backup taken" >&2
                         return 1; }
    local stamp dest partial kind name size source sha entries="" sep=""
    stamp=$(date -u +%Y%m%d-%H%M%S)
    dest=$root/$stamp partial=$root/$stamp.partial
    mkdir -p -- "$root" && chmod 700 -- "$root"
    rm -rf -- "$partial"
    mkdir -p -- "$partial/version-2"
    trap 'rm -rf -- "$partial"' EXIT
    local snapshot_zxid=""
    while read -r kind name size; do
        if [ "$kind" = snapshot ]; then source=$data_dir/version-2/$name; snapshot_zxid=0x${name#*.}
        else source=$log_dir/version-2/$name; fi
        # A log grows while the server runs: the copy is what it held at this moment (replayed to its end).
        cp -- "$source" "$partial/version-2/$name"
        size=$(stat -c %s "$partial/version-2/$name")
        sha=$(hash_of "$partial/version-2/$name")
        entries+="$sep    {\"kind\": \"$kind\", \"name\": \"$name\", \"size\": $size, \"sha256\": \"$sha\"}"
        sep=$',\n'
    done < <(needed "$data_dir" "$log_dir")
    "$java_home/bin/java" -Xmx512m -Dzookeeper.snapshot.trust.empty=false -cp "$zk_home/lib/*" \
        "$loader" "$partial" > "$partial/load.txt" 2> "$partial/stderr" || {
        tail -n 5 "$partial/stderr" >&2
        return 1
    }
    local zxid count version
    sed -n 's/^node //p' "$partial/load.txt" > "$partial/znodes.txt"
    zxid=$(sed -n 's/^zxid //p' "$partial/load.txt")
    count=$(sed -n 's/^count //p' "$partial/load.txt")
    version=$(sed -n 's/^version //p' "$partial/load.txt")
    if [ -z "$zxid" ] || [ -z "$count" ]; then
        echo "the offline load of the copy did not finish" >&2
        return 1
    fi
    rm -f -- "$partial/load.txt" "$partial/stderr"
    local servers="" member msep=""
    for member in ${members//,/ }; do
        servers+="$msep$(json_str "${member%%=*}"): ${member#*=}"
        msep=", "
    done
    {
        printf '{\n  "cluster": %s,\n  "server": %s,\n  "servers": {%s},\n' "$(json_str "$cluster")" \
            "$(json_str "$server")" "$servers"
        printf '  "zookeeper_version": %s,\n  "taken_at": "%s",\n  "znodes": %s,\n' "$(json_str "$version")" \
            "$(date -u +%Y-%m-%dT%H:%M:%S+00:00)" "$count"
        printf '  "files": [\n%s\n  ],\n' "$entries"
        printf '  "listing": {"kind": "listing", "name": "znodes.txt", "size": %s, "sha256": "%s"},\n' \
            "$(stat -c %s "$partial/znodes.txt")" "$(hash_of "$partial/znodes.txt")"
        printf '  "format": 1,\n  "zxid_range": {"from": "%s", "to": "%s"}\n}\n' "$snapshot_zxid" "$zxid"
    } > "$partial/manifest.json"
    mv -- "$partial" "$dest"
    trap - EXIT
    echo "backup $dest: zxid $zxid, $count znodes"
    prune "$root" "$keep"
}

# Only the newest KEEP complete backups under ROOT stay (names are times: they sort); older ones go, and so
# do partial ones an interrupted run left.
prune() {
    local root=$1 keep=$2 dir
    rm -rf -- "$root"/*.partial
    find "$root" -mindepth 2 -maxdepth 2 -name manifest.json -printf '%h\n' | sort -r | tail -n +"$((keep + 1))" |
        while read -r dir; do
            rm -rf -- "$dir"
            echo "removed $dir (keeping the newest $keep)"
        done
}

schedule_on() {
    systemctl daemon-reload
    systemctl enable --quiet --now "$1"
}

schedule_off() {
    local base=$1 lib=$2
    systemctl disable --quiet --now "$base.timer" 2>/dev/null || true
    rm -f -- "/etc/systemd/system/$base.timer" "/etc/systemd/system/$base.service"
    systemctl daemon-reload
    if ! compgen -G "/etc/systemd/system/clusterctl-backup-*.service" > /dev/null; then
        rm -rf -- "$lib"
    fi
}

main() {
    local action=$1
    shift
    case $action in
        list) list "$@" ;;
        cat) exec cat -- "$1" ;;
        verify) verify "$@" ;;
        restore) restore "$@" ;;
        needed) needed "$@" ;;
        take) take "$@" ;;
        schedule-on) schedule_on "$@" ;;
        schedule-off) schedule_off "$@" ;;
        *) echo "unknown action $action" >&2; exit 2 ;;
    esac
}

main "$@"
