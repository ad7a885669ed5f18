# Laying out one ZooKeeper server's files on its node.
#
#   bash -s -- unpack STAGED INSTALL_DIR RELEASE SHA256 MARK   the release under INSTALL_DIR/RELEASE
#   bash -s -- relink TARGET LINK                              LINK (ZOOKEEPER_HOME) → TARGET
#   bash -s -- account USER GROUP HOME                         the service's system account, no login shell
#   bash -s -- data-dirs USER GROUP DIR...                     the directories and all in them, the account's
#   bash -s -- conf-dir USER GROUP DIR                         the config directory, the account's (750);
#                                                              its files keep their own owners
#   bash -s -- enable UNIT                                     systemd reads the unit again; enabled at boot
#   bash -s -- backup-conf CONF_DIR BACKUP                     a copy of the config directory, as it is
#   bash -s -- restore-conf BACKUP CONF_DIR                    that copy's files put back
#   bash -s -- backup-data DATA_DIR DATA_LOG_DIR BACKUP        a copy of the snapshots and transaction logs
#   bash -s -- cleanup INSTALL_DIR LINK MARK                   releases clusterctl unpacked that LINK does not
#                                                              point at, removed ("removed DIR" for each)
#   bash -s -- retire UNIT ASIDE DATA_DIR DATA_LOG_DIR CONF_DIR  a removed server: the unit disabled, its data,
#                                                              myid, zoo.cfg and membership files moved to ASIDE
set -eu

# Unpack beside the final place, mark it with the tarball's hash, then move it in whole.
# A tree already there (unpacked by hand, or from another tarball of that name) is kept aside.
unpack() {
    local staged=$1 install_dir=$2 release=$3 sha=$4 mark=$5
    mkdir -p -- "$install_dir"
    # Global, not local: the EXIT trap that removes it runs after this function has returned.
    tmp=$(mktemp -d "$install_dir/.clusterctl-unpack.XXXXXX")
    trap 'rm -rf -- "$tmp"' EXIT
    trap 'exit 129' HUP
    trap 'exit 143' TERM
    tar -xzf "$staged" -C "$tmp" --no-same-owner
    test -x "$tmp/$release/bin/zkServer.sh"
    echo "$sha" > "$tmp/$release/$mark"
    if [ -e "$install_dir/$release" ]; then
        mv -- "$install_dir/$release" "$install_dir/$release.replaced-$(date +%Y%m%d-%H%M%S)"
    fi
    mv -- "$tmp/$release" "$install_dir/$release"
}

# One rename, so ZOOKEEPER_HOME is never missing.
relink() {
    local target=$1 link=$2
    ln -sfn -- "$target" "$link.clusterctl-tmp"
    mv -Tf -- "$link.clusterctl-tmp" "$link"
}

account() {
    local user=$1 group=$2 home=$3
    getent group "$group" >/dev/null || groupadd --system "$group"
    if ! getent passwd "$user" >/dev/null; then
        useradd --system --gid "$group" --home-dir "$home" --no-create-home \
            --shell /usr/sbin/nologin --comment "ZooKeeper server (clusterctl)" "$user"
    fi
}

# Everything in them too: a server that ran as root (before the service) left root's files there.
data_dirs() {
    local user=$1 group=$2
    shift 2
    mkdir -p -- "$@"
    chown -R -- "$user:$group" "$@"
    chmod 750 -- "$@"
}

# ZooKeeper writes its membership files here and rewrites zoo.cfg, so the directory is the account's;
# the files clusterctl writes in it (the secret, java.env) keep theirs.
conf_dir() {
    mkdir -p -- "$3"
    chown -- "$1:$2" "$3"
    chmod 750 -- "$3"
}

enable_unit() {
    systemctl daemon-reload
    systemctl enable --quiet "$1"
}

backup_conf() {
    local conf=$1 backup=$2
    rm -rf -- "$backup.tmp"
    cp -a -- "$conf" "$backup.tmp"
    mv -- "$backup.tmp" "$backup"
}

restore_conf() {
    local backup=$1 conf=$2
    test -d "$backup"
    cp -a -- "$backup/." "$conf/"
}

# ZooKeeper's snapshots are fuzzy and its transaction logs append-only: a copy taken while it
# runs restores to a consistent state by replaying the logs, as a restart does.
backup_data() {
    local data=$1 datalog=$2 backup=$3
    mkdir -- "$backup.tmp" && chmod 700 -- "$backup.tmp"
    cp -a -- "$data/version-2" "$backup.tmp/data-version-2" 2>/dev/null || true
    if [ "$datalog" != "$data" ] && [ -d "$datalog/version-2" ]; then
        cp -a -- "$datalog/version-2" "$backup.tmp/datalog-version-2"
    fi
    mv -- "$backup.tmp" "$backup"
    echo "snapshots and transaction logs copied to $backup ($(du -sh -- "$backup" | cut -f1))"
}

cleanup() {
    local install_dir=$1 link=$2 mark=$3 current dir
    current=$(readlink -f -- "$link")
    for dir in "$install_dir"/*/; do
        dir=${dir%/}
        [ -f "$dir/$mark" ] || continue
        [ "$(readlink -f -- "$dir")" = "$current" ] && continue
        rm -rf -- "$dir"
        echo "removed $dir"
    done
}

# Never deleted: a server removed by mistake (or its snapshots) can be brought back from ASIDE.
# Prints what it moved, or "nothing to move" when it ran already.
retire() {
    local unit=$1 aside=$2 data=$3 datalog=$4 conf=$5 moved=0 file
    systemctl disable --quiet "$unit" 2>/dev/null || true
    if [ -d "$data" ]; then
        mv -- "$data" "$aside"
        moved=1
    fi
    mkdir -p -- "$aside"
    case $datalog in
        "$data"/*) ;;
        *) if [ -d "$datalog" ]; then mv -- "$datalog" "$aside/data-log-dir"; moved=1; fi ;;
    esac
    for file in "$conf"/zoo.cfg "$conf"/zoo.cfg.dynamic*; do
        if [ -e "$file" ]; then mv -- "$file" "$aside/"; moved=1; fi
    done
    if [ "$moved" = 1 ]; then echo "moved to $aside"; else rmdir -- "$aside"; echo "nothing to move"; fi
}

main() {
    local action=$1
    shift
    case $action in
        unpack) unpack "$@" ;;
        relink) relink "$@" ;;
        account) account "$@" ;;
        data-dirs) data_dirs "$@" ;;
        conf-dir) conf_dir "$@" ;;
        enable) enable_unit "$@" ;;
        retire) retire "$@" ;;
        backup-conf) backup_conf "$@" ;;
        restore-conf) restore_conf "$@" ;;
        backup-data) backup_data "$@" ;;
        cleanup) cleanup "$@" ;;
        *) echo "zk_install.sh: unknown action $action" >&2; return 2 ;;
    esac
}

main "$@"
