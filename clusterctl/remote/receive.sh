# Receiving one staged file on a host, and passing it on down a pipeline.
#
#   bash -s -- CODE KEX DIR NAME SHA256 recv SELF [NEXT...]  < this script, then the bytes
#   bash -s -- CODE KEX DIR NAME SHA256 pull SOURCE SELF
#   bash -s -- CODE KEX DIR NAME SHA256 stamp  a stamp for DIR/NAME, already checked to have SHA256
#   bash -s -- CODE KEX - - - probe NEXT      can this host log in to NEXT? (and keep the connection)
#
# recv: the bytes on stdin are written to DIR/.NAME.clusterctl-part (one fixed name, so
#       a part left by a copy that died is overwritten, never piled up) and, when NEXT hosts follow, streamed on to the first of them over node-to-node SSH,
#       with this script in front (CODE is its base64) and the rest of the chain.
# pull: the bytes are fetched from SOURCE's verified copy.
# Either way the part is hashed and renamed to DIR/NAME only when its sha256 is the
# one expected; a stamp DIR/NAME.sha256 with the file's mtime then vouches for it.
# Every host prints one line on stdout, all of a pipeline's on the first host's channel:
#   clusterctl-transfer HOST ok | failed REASON | forward-failed NEXT REASON
set -u

# Between hosts: never prompt, pin host keys (ssh-trust wrote them), notice a dead peer within
# half a minute, prefer the cipher with hardware support, and share one connection per pair
# (ControlMaster): the probe opens it, so a pipeline's hops start without a handshake each.
# KEX (from the controller) is the key exchange list: curve25519 first, as the controller's
# own connections use; OpenSSH 9's post-quantum default costs about a CPU-second more each.
ssh_options() {
    SSH_OPTS=(-o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10
              -o ServerAliveInterval=5 -o ServerAliveCountMax=6 -o LogLevel=ERROR
              -o "KexAlgorithms=$1" -o "Ciphers=aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr"
              -o ControlMaster=auto -o "ControlPath=~/.ssh/clusterctl-mux-%C" -o ControlPersist=30)
}

report() {
    printf 'clusterctl-transfer %s %s\n' "${self#*@}" "$*"
}

last_error() {
    local e
    e=$(tail -n 1 "$err" | tr -d '\r')
    echo "${e:-connection lost}"
}

# openssl uses the CPU's SHA instructions; coreutils' sha256sum is often 5x slower.
hash_of() {
    if command -v openssl >/dev/null; then openssl dgst -sha256 -r "$1"; else sha256sum "$1"; fi
}

keep_if_verified() {
    local got
    got=$(hash_of "$part" 2>/dev/null)
    got=${got%% *}
    if [ "$got" != "$want" ]; then
        rm -f -- "$part"
        report failed "hash mismatch after copy (got ${got:-nothing}, ${1:-the stream ended early?})"
    elif rm -f -- "$stamp" && sync -- "$part" 2>/dev/null && mv -f -- "$part" "$final" &&
         printf '%s  %s\n' "$want" "$name" > "$stamp.tmp" && touch -r "$final" "$stamp.tmp" &&
         mv -f -- "$stamp.tmp" "$stamp"; then
        report ok
    else
        report failed "could not rename the verified copy to $final"
    fi
}

recv() {
    self=$1
    shift
    local sink=/dev/null
    if mkdir -p -- "$dir" && : > "$part"; then sink=$part; fi
    local status
    if [ $# -gt 0 ]; then
        local next=$1
        shift
        # The next host gets this script, then the bytes, as this host got them.
        { printf '%s' "$code" | base64 -d; tee "$sink"; } |
            ssh "${SSH_OPTS[@]}" "$next" bash -s -- "$code" "$kex" "$dir" "$name" "$want" recv "$next" "$@" 2>"$err"
        status=("${PIPESTATUS[@]}")
        [ "${status[1]}" = 0 ] || report forward-failed "${next#*@}" "$(last_error) (ssh exit ${status[1]})"
    else
        tee "$sink" >/dev/null
        status=($?)
    fi
    if [ "$sink" = /dev/null ]; then report failed "cannot write $part"
    elif [ "${status[0]}" != 0 ]; then rm -f -- "$part"; report failed "writing $part failed (disk full?)"
    else keep_if_verified
    fi
}

pull() {
    local source=$1
    self=$2
    if ! mkdir -p -- "$dir"; then report failed "cannot create $dir"; return; fi
    ssh -n "${SSH_OPTS[@]}" "$source" cat "$final" 2>"$err" > "$part"
    local rc=$?
    if [ "$rc" != 0 ]; then
        rm -f -- "$part"
        report failed "could not fetch from ${source#*@}: $(last_error) (ssh exit $rc)"
    else
        keep_if_verified "copied from ${source#*@}"
    fi
}

probe() {
    ssh -n "${SSH_OPTS[@]}" "$1" true
}

write_stamp() {
    printf '%s  %s\n' "$want" "$name" > "$stamp.tmp" && touch -r "$final" "$stamp.tmp" && mv -f -- "$stamp.tmp" "$stamp"
}

main() {
    code=$1 kex=$2 dir=$3 name=$4 want=$5
    local mode=$6
    shift 6
    ssh_options "$kex"
    final=$dir/$name part=$dir/.$name.clusterctl-part stamp=$dir/$name.sha256 self=""
    case $mode in
        probe) probe "$@"; return ;;
        stamp) write_stamp; return ;;
    esac
    err=$(mktemp) && trap 'rm -f "$err"' EXIT
    case $mode in
        recv) recv "$@" ;;
        pull) pull "$@" ;;
    esac
    exit 0
}

main "$@"
