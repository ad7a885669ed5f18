# Installing a staged JDK package on one host, and pointing JAVA_HOME at it.
#
#   bash -s -- rpm STAGED DEBIAN_RPM     rpm -U (with --force-debian --nodeps on Debian's rpm)
#   bash -s -- deb STAGED                dpkg -i
#   bash -s -- tarball STAGED DIR TOP SHA256   unpack into DIR/TOP (DIR: /usr/java), marked with the tarball's hash
#   bash -s -- link JAVA_HOME TARGET     JAVA_HOME → TARGET, swapped with one rename
#   bash -s -- exe PID                   the java binary process PID runs, resolved (which JDK it is on)
set -eu

MARK=.clusterctl-package.sha256

install_rpm() {
    local staged=$1 debian=$2
    # On Debian rpm's database is empty, so any dependency would be "missing" while dpkg has it.
    if [ "$debian" = 1 ]; then
        rpm -Uvh --force-debian --nodeps "$staged"
    else
        rpm -Uvh "$staged"
    fi
}

install_deb() {
    DEBIAN_FRONTEND=noninteractive dpkg -i "$1"
}

# Unpack beside the final place, mark it, then rename it in whole: a reader (or a run that
# died half way) never sees a half-unpacked JDK under the final name.
unpack_tarball() {
    local staged=$1 java_dir=$2 top=$3 sha=$4
    mkdir -p "$java_dir"
    # Global, not local: the EXIT trap that removes it runs after this function has returned.
    part=$(mktemp -d "$java_dir/.$top.clusterctl-part.XXXXXX")
    trap 'rm -rf -- "$part"' EXIT
    trap 'exit 129' HUP
    trap 'exit 143' TERM
    tar -xzf "$staged" -C "$part" --no-same-owner
    if [ ! -d "$part/$top" ]; then
        echo "the tarball did not unpack into $top/" >&2
        exit 1
    fi
    echo "$sha" > "$part/$top/$MARK"
    if [ -e "$java_dir/$top" ]; then mv -- "$java_dir/$top" "$part/replaced"; fi
    mv -- "$part/$top" "$java_dir/$top"
}

link() {
    local home=$1 target=$2
    mkdir -p "$(dirname -- "$home")"
    ln -sfn -- "$target" "$home.clusterctl-tmp"
    mv -Tf -- "$home.clusterctl-tmp" "$home"
}

main() {
    local action=$1
    shift
    case $action in
        rpm) install_rpm "$@" ;;
        deb) install_deb "$@" ;;
        tarball) unpack_tarball "$@" ;;
        link) link "$@" ;;
        exe) readlink -f -- "/proc/$1/exe" ;;
        *) echo "jdk.sh: unknown action $action" >&2; exit 2 ;;
    esac
}

main "$@"
