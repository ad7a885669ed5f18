# A ZooKeeper server's TLS key and certificates on its node. The private key is made here and never leaves.
#
#   bash -s -- request DIR NAME USER GROUP   a new private key (DIR/key.pending.pem, USER's alone) and its
#                                            certificate signing request for NAME, printed (PEM)
#   bash -s -- install DIR USER GROUP        the signed certificate chain on stdin (PEM) put in place with the
#                                            pending key: DIR/keystore.pem (key and chain, mode 600) and
#                                            DIR/server.crt (the chain), each replaced in one rename
#
# openssl makes the key (EC P-256, unencrypted PKCS#8 in a file only the service account reads: ZooKeeper's
# PEM stores need no password, so there is none to keep or leak).
set -eu

dir_for() {
    local dir=$1 user=$2 group=$3
    mkdir -p -- "$dir"
    chown "$user:$group" "$dir"
    chmod 700 "$dir"
}

request() {
    local dir=$1 name=$2 user=$3 group=$4
    dir_for "$dir" "$user" "$group"
    umask 077
    command -v openssl >/dev/null 2>&1 || { echo "no openssl on this node to make the key with: install it" >&2; exit 3; }
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$dir/key.pending.pem" -subj "/CN=$name" -out "$dir/request.pem" 2>/dev/null
    chown "$user:$group" "$dir/key.pending.pem"
    cat "$dir/request.pem"
    rm -f -- "$dir/request.pem"
}

install() {
    local dir=$1 user=$2 group=$3
    [ -s "$dir/key.pending.pem" ] || { echo "$dir/key.pending.pem: no pending key (request first)" >&2; exit 3; }
    # Globals, not locals: the EXIT trap that removes them runs after this function has returned.
    chain=$(mktemp "$dir/.chain.XXXXXX")
    keystore_new=$dir/.keystore.new
    cert_new=$dir/.server.crt.new
    trap 'rm -f -- "$chain" "$keystore_new" "$cert_new"' EXIT
    cat > "$chain"
    grep -q -- "-----BEGIN CERTIFICATE-----" "$chain" || { echo "no certificate on stdin" >&2; exit 3; }
    # The certificate must be the pending key's: a mix-up would leave a server that cannot start.
    if [ "$(openssl x509 -noout -pubkey -in "$chain" | openssl pkey -pubin -outform DER | sha256sum)" != \
         "$(openssl pkey -in "$dir/key.pending.pem" -pubout -outform DER | sha256sum)" ]; then
        echo "the certificate is not for $dir/key.pending.pem" >&2
        exit 3
    fi
    umask 077
    cat "$dir/key.pending.pem" "$chain" > "$keystore_new"
    cp -- "$chain" "$cert_new"
    chown "$user:$group" "$keystore_new" "$cert_new"
    chmod 600 "$keystore_new"
    chmod 644 "$cert_new"
    mv -f -- "$keystore_new" "$dir/keystore.pem"
    mv -f -- "$cert_new" "$dir/server.crt"
    rm -f -- "$dir/key.pending.pem"
}

main() {
    local action=$1
    shift
    case $action in
        request) request "$@" ;;
        install) install "$@" ;;
        *) echo "tls.sh: unknown action $action" >&2; return 2 ;;
    esac
}

main "$@"
