# A ZooKeeper server's TLS key and certificates on its node. The private key is made here and never leaves.
#
#   bash -s -- request DIR NAME USER GROUP JAVA_HOME
#                                            a new private key (DIR/key.pending.*, USER's alone) and its
#                                            certificate signing request for NAME, printed (PEM)
#   bash -s -- install DIR USER GROUP JAVA_HOME SOURCE_SIZE
#                                            stdin: SOURCE_SIZE bytes of tls_key_pem.java, then the signed
#                                            certificate chain (PEM), put in place with the pending key:
#                                            DIR/keystore.pem (key and chain, mode 600) and DIR/server.crt (the
#                                            chain), each replaced in one rename
#
# openssl makes the key where the node has it (EC P-256, unencrypted PKCS#8 in a file only the service account
# reads: ZooKeeper's PEM stores need no password, so there is none to keep or leak). A node without openssl
# makes it with the JDK's keytool, in a PKCS12 store whose random password is in a file (never an argument:
# keytool's -storepass:file) that only the service account reads; the key then becomes the same PEM keystore
# (tls_key_pem.java, run by the JDK), and the pending store and its password file are removed.
set -eu

dir_for() {
    local dir=$1 user=$2 group=$3
    mkdir -p -- "$dir"
    chown "$user:$group" "$dir"
    chmod 700 "$dir"
}

request() {
    local dir=$1 name=$2 user=$3 group=$4 java_home=$5
    dir_for "$dir" "$user" "$group"
    umask 077
    rm -f -- "$dir/key.pending.pem" "$dir/key.pending.p12" "$dir/key.pending.pass"
    if command -v openssl >/dev/null 2>&1; then
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$dir/key.pending.pem" -subj "/CN=$name" -out "$dir/request.pem" 2>/dev/null
        chown "$user:$group" "$dir/key.pending.pem"
    elif [ -x "$java_home/bin/keytool" ]; then
        keytool_request "$dir" "$name" "$user" "$group" "$java_home/bin/keytool"
    else
        echo "neither openssl nor $java_home/bin/keytool on this node to make the key with: install openssl" >&2
        exit 3
    fi
    cat "$dir/request.pem"
    rm -f -- "$dir/request.pem"
}

keytool_request() {
    local dir=$1 name=$2 user=$3 group=$4 keytool=$5
    od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > "$dir/key.pending.pass"
    chown "$user:$group" "$dir/key.pending.pass"
    "$keytool" -genkeypair -alias server -keyalg EC -groupname secp256r1 -dname "CN=$name" -validity 1 \
        -keystore "$dir/key.pending.p12" -storetype PKCS12 -storepass:file "$dir/key.pending.pass" >/dev/null 2>&1
    chown "$user:$group" "$dir/key.pending.p12"
    "$keytool" -certreq -alias server -keystore "$dir/key.pending.p12" -storetype PKCS12 \
        -storepass:file "$dir/key.pending.pass" 2>/dev/null | sed 's/NEW CERTIFICATE REQUEST/CERTIFICATE REQUEST/' \
        > "$dir/request.pem"
}

install() {
    local dir=$1 user=$2 group=$3 java_home=$4 source_size=$5
    # Globals, not locals: the EXIT trap that removes them runs after this function has returned.
    chain=$(mktemp "$dir/.chain.XXXXXX")
    source=$(mktemp -d "$dir/.source.XXXXXX")
    keystore_new=$dir/.keystore.new
    cert_new=$dir/.server.crt.new
    trap 'rm -rf -- "$chain" "$source" "$keystore_new" "$cert_new"' EXIT
    head -c "$source_size" > "$source/TlsKeyPem.java"
    cat > "$chain"
    grep -q -- "-----BEGIN CERTIFICATE-----" "$chain" || { echo "no certificate on stdin" >&2; exit 3; }
    umask 077
    if [ -s "$dir/key.pending.pem" ]; then
        # The certificate must be the pending key's: a mix-up would leave a server that cannot start.
        if [ "$(openssl x509 -noout -pubkey -in "$chain" | openssl pkey -pubin -outform DER | sha256sum)" != \
             "$(openssl pkey -in "$dir/key.pending.pem" -pubout -outform DER | sha256sum)" ]; then
            echo "the certificate is not for $dir/key.pending.pem" >&2
            exit 3
        fi
        cat "$dir/key.pending.pem" "$chain" > "$keystore_new"
    elif [ -s "$dir/key.pending.p12" ]; then
        # The same check, made by the JDK, which also writes the key out as PEM.
        "$java_home/bin/java" "$source/TlsKeyPem.java" "$dir/key.pending.p12" "$dir/key.pending.pass" "$chain" \
            > "$keystore_new"
        cat "$chain" >> "$keystore_new"
    else
        echo "$dir/key.pending.*: no pending key (request first)" >&2
        exit 3
    fi
    cp -- "$chain" "$cert_new"
    chown "$user:$group" "$keystore_new" "$cert_new"
    chmod 600 "$keystore_new"
    chmod 644 "$cert_new"
    mv -f -- "$keystore_new" "$dir/keystore.pem"
    mv -f -- "$cert_new" "$dir/server.crt"
    rm -f -- "$dir/key.pending.pem" "$dir/key.pending.p12" "$dir/key.pending.pass"
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
