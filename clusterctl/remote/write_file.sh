# The one way clusterctl writes a file on a host: all or nothing.
#
#   bash -s -- PATH MODE OWNER GROUP SIZE SHA256 DIR_MODE [new]   < this script, then exactly SIZE bytes
#
# The bytes land in a temporary file beside PATH, which gets its owner and mode,
# is checked against SIZE and SHA256 and flushed to disk before one rename puts
# it in place; then the directory is flushed too, so a power cut right after
# cannot leave a hole. If the sender dies, the connection drops or anything
# fails, the temporary file is removed and PATH is exactly what it was.
# OWNER/GROUP "-" keeps the current file's (the writer's for a new file); GROUP "@" is OWNER's own
# group. A directory created for the file gets OWNER too.
# DIR_MODE is the mode of the directory if it has to be created ("-": 755).
# With "new" the file is only created, never replaced: if PATH exists (even one
# made a moment ago by someone else) nothing changes and the exit status is 3.
# A path starting with ~/ is under the home of the user running this, ~USER/ under USER's.
set -u

fail() {
    echo "write_file: $*" >&2
    exit 1
}

sha256_of() {
    local sum
    if command -v openssl >/dev/null; then
        sum=$(openssl dgst -sha256 -r < "$1") || return 1
    else
        sum=$(sha256sum < "$1") || return 1
    fi
    printf '%s\n' "${sum%% *}"
}

main() {
    local path=$1 mode=$2 owner=$3 group=$4 size=$5 want=$6 dir_mode=$7 how=${8:-replace}
    local rest
    case $path in
        \~/*) path="$HOME/${path#\~/}" ;;
        \~*/*)
            rest=${path#\~}
            path="$(getent passwd "${rest%%/*}" | cut -d: -f6)/${rest#*/}"
            [ "$path" != "/${rest#*/}" ] || fail "no user ${rest%%/*} here" ;;
    esac
    [ "$group" = @ ] && group=$(id -gn "$owner")
    local dir name got spec
    dir=$(dirname -- "$path")
    name=$(basename -- "$path")
    if [ ! -d "$dir" ]; then
        [ "$dir_mode" = - ] && dir_mode=755
        # shellcheck disable=SC2174  # the mode is for the file's own directory (~/.ssh), not its parents
        mkdir -p -m "$dir_mode" -- "$dir" || fail "cannot create $dir"
        if [ "$owner" != - ]; then chown -- "$owner${group:+:${group#-}}" "$dir" 2>/dev/null || true; fi
    fi
    # Left by a writer that lost its node (power cut): never renamed, safe to drop.
    rm -f -- "$dir/.$name.clusterctl-tmp."*
    # Global, not local: the EXIT trap that removes it runs after main has returned.
    tmp=$(mktemp -- "$dir/.$name.clusterctl-tmp.XXXXXX") || fail "cannot create a file in $dir"
    trap 'rm -f -- "$tmp"' EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 141' PIPE
    trap 'exit 143' TERM
    head -c "$size" > "$tmp" || fail "cannot write $tmp (disk full?)"
    got=$(stat -c %s -- "$tmp")
    [ "$got" = "$size" ] || fail "received $got of $size bytes for $path: the sender stopped; $path is unchanged"
    got=$(sha256_of "$tmp") || fail "cannot hash $tmp"
    [ "$got" = "$want" ] || fail "the bytes received for $path do not have the expected sha256; $path is unchanged"
    if [ "$owner" = - ] && [ -e "$path" ]; then owner=$(stat -c %U -- "$path"); fi
    if [ "$group" = - ] && [ -e "$path" ]; then group=$(stat -c %G -- "$path"); fi
    spec=""
    [ "$owner" = - ] || spec=$owner
    [ "$group" = - ] || spec="$spec:$group"
    if [ -n "$spec" ]; then
        chown -- "$spec" "$tmp" || fail "cannot give $path to $spec"
    fi
    chmod -- "$mode" "$tmp" || fail "cannot set mode $mode"
    sync -- "$tmp" 2>/dev/null || sync
    if [ "$how" = new ]; then
        # A hard link is created only where no file is: atomic, unlike a test and then a rename.
        if ! ln -- "$tmp" "$path" 2>/dev/null; then
            echo "write_file: $path exists: not replaced" >&2
            exit 3
        fi
        rm -f -- "$tmp"
    else
        mv -f -- "$tmp" "$path" || fail "cannot rename into $path"
    fi
    trap - EXIT
    sync -- "$dir" 2>/dev/null || sync
}

main "$@"
