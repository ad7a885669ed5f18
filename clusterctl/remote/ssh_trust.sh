# SSH trust on one node: its key pair, the modes sshd insists on, and logins to its peers.
#
#   bash -s -- keygen TYPE          a key pair ~/.ssh/id_TYPE, unless one is there
#   bash -s -- fix-modes            ~/.ssh 700 and ~/.ssh/authorized_keys 600, owned by the user
#   bash -s -- authorize KEY-LINE   add the controller's public key to ~/.ssh/authorized_keys (ssh-copy-id)
#   bash -s -- check PARALLEL KEX USER@NAME...
#                                   log in to each peer by name (BatchMode, strict host keys),
#                                   PARALLEL at a time; one line per peer: "USER@NAME RC LAST-LINE"
set -u

keygen() {
    local type=$1 key="$HOME/.ssh/id_$1"
    local bits=()
    [ "$type" = rsa ] && bits=(-b 4096)
    umask 077
    mkdir -p "$HOME/.ssh"
    [ -f "$key" ] && return 0
    ssh-keygen -q -t "$type" "${bits[@]}" -N '' -C "$(id -un)@$(hostname)" -f "$key" </dev/null
}

authorize() {
    umask 077
    mkdir -p "$HOME/.ssh"
    touch "$HOME/.ssh/authorized_keys"
    grep -qxF -- "$1" "$HOME/.ssh/authorized_keys" || printf '%s\n' "$1" >> "$HOME/.ssh/authorized_keys"
}

fix_modes() {
    chmod 700 "$HOME/.ssh" && chmod 600 "$HOME/.ssh/authorized_keys" &&
        chown "$(id -un)" "$HOME/.ssh" "$HOME/.ssh/authorized_keys"
}

# One login; ConnectTimeout is generous and a timed-out try is retried, so a loaded
# machine is not taken for a broken trust. Each try is bounded as a whole (a login that
# connected and then hangs is cut off after 30 s), so the check always ends, also when the
# controller that asked for it is gone.
check_one() {
    local target=$1 kex=$2 out rc try
    for try in 1 2 3; do
        out=$(timeout 30 ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=15 \
              -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o KexAlgorithms="$kex" "$target" true 2>&1)
        rc=$?
        [ "$rc" = 124 ] && out="${out:+$out; }login did not finish within 30s"
        case $out in *"timed out"*|*"did not finish"*|*"Connection reset"*|*"closed by remote host"*) ;; *) break ;; esac
        sleep "$try"
    done
    printf '%s %s %s\n' "$target" "$rc" "$(printf '%s' "$out" | tail -n 1)"
}

check() {
    local parallel=$1 kex=$2
    shift 2
    local running=0 target
    for target in "$@"; do
        check_one "$target" "$kex" &
        running=$((running + 1))
        if [ "$running" -ge "$parallel" ]; then
            wait -n
            running=$((running - 1))
        fi
    done
    wait
}

main() {
    case $1 in
        keygen) keygen "$2" ;;
        fix-modes) fix_modes ;;
        authorize) authorize "$2" ;;
        check) shift; check "$@" ;;
        *) echo "ssh_trust.sh: unknown action $1" >&2; exit 2 ;;
    esac
}

main "$@"
