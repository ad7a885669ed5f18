# Laying out one ZooKeeper server's files on its node.
#
#   bash -s -- unpack STAGED INSTALL_DIR RELEASE SHA256 MARK   the release under INSTALL_DIR/RELEASE
#   bash -s -- relink TARGET LINK                              LINK (ZOOKEEPER_HOME) → TARGET
#   bash -s -- account USER GROUP HOME                         the service's system account, no login shell
#   bash -s -- data-dirs USER GROUP DIR...                     the directories, the account's (750)
#   bash -s -- enable UNIT                                     systemd reads the unit again; enabled at boot
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

enable_unit() {
    systemctl daemon-reload
    systemctl enable --quiet "$1"
}

main() {
    local action=$1
    shift
    case $action in
        unpack) unpack "$@" ;;
        relink) relink "$@" ;;
        account) account "$@" ;;
        data-dirs) data_dirs "$@" ;;
        enable) enable_unit "$@" ;;
        *) echo "zk_install.sh: unknown action $action" >&2; return 2 ;;
    esac
}

main "$@"
