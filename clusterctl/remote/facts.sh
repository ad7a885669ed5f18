# clusterctl's fact vocabulary: what a host is now, asked in one round trip.
#
# Run as `bash -s -- NAME KIND NARGS ARG... [NAME KIND NARGS ARG...]...` with
# this file on stdin. For every query it prints
#   \036clusterctl-fact NAME\n  <output of fact_KIND ARG...>  \n\036clusterctl-fact-rc RC\n
# Facts only read: nothing here changes the host. A path starting with ~/ is
# under the connecting user's home.

expand() {
    case $1 in
        \~/*) printf '%s\n' "$HOME/${1#\~/}" ;;
        *) printf '%s\n' "$1" ;;
    esac
}

# The content of a file; fails when there is none.
fact_file() {
    cat -- "$(expand "$1")"
}

# Succeeds when every path is a directory.
fact_dirs() {
    local path
    for path in "$@"; do
        [ -d "$(expand "$path")" ] || return 1
    done
}

# "link TARGET" for a symbolic link, "other" for anything else there, nothing when absent.
fact_link() {
    local path
    path=$(expand "$1")
    if [ -L "$path" ]; then
        printf 'link %s\n' "$(readlink -- "$path")"
    elif [ -e "$path" ]; then
        echo other
    fi
}

# "MODE OWNER GROUP" of each path, one line each; fails when one is missing.
fact_stat() {
    local path
    for path in "$@"; do
        stat -c '%a %U %G' -- "$(expand "$path")" || return 1
    done
}

# The login name of the connecting user.
fact_whoami() {
    id -un
}

# Where each command is; fails when one is missing.
fact_commands() {
    local name
    for name in "$@"; do
        command -v -- "$name" || return 1
    done
}

# The public half of a key pair: its .pub file, else derived from the private key; fails without one.
fact_pubkey() {
    local key
    key=$(expand "$1")
    [ -f "$key" ] || return 1
    cat -- "$key.pub" 2>/dev/null || ssh-keygen -y -f "$key"
}

# The host keys sshd serves (sshd -T), not every key file lying in /etc/ssh: pinning one it
# does not serve makes OpenSSH's UpdateHostKeys prune it again after each run.
fact_sshd_host_keys() {
    local keys key
    keys=$( { sshd -T 2>/dev/null || /usr/sbin/sshd -T 2>/dev/null; } | awk '$1 == "hostkey" {print $2}')
    if [ -n "$keys" ]; then
        for key in $keys; do
            cat -- "$key.pub"
        done
    else
        cat /etc/ssh/ssh_host_*_key.pub
    fi
}

# A staged package: its size and mtime, its stamp, and its hash only when the size is right and no
# current stamp vouches for it (so a converged host costs three stats).
fact_staged() {
    local final=$1 stamp=$2 size=$3 got mtime stamp_mtime stamped=""
    [ -f "$final" ] || return 0
    got=$(stat -c %s -- "$final")
    mtime=$(stat -c %y -- "$final")
    echo "size $got"
    echo "mtime $mtime"
    if [ -f "$stamp" ]; then
        stamp_mtime=$(stat -c %y -- "$stamp")
        echo "stamp-mtime $stamp_mtime"
        echo "stamp $(head -c 100 -- "$stamp")"
        [ "$stamp_mtime" = "$mtime" ] && stamped=yes
    fi
    if [ "$got" = "$size" ] && [ -z "$stamped" ]; then
        echo "hash $(openssl dgst -sha256 -r < "$final" 2>/dev/null || sha256sum < "$final")"
    fi
    local part
    part="$(dirname -- "$final")/.$(basename -- "$final").clusterctl-part"
    if [ -f "$part" ]; then
        echo "part $(stat -c %s -- "$part")"
    fi
}

# The tool a package kind is installed with; Debian's rpm also says "debian-rpm" (it wants
# --force-debian, and its database knows none of dpkg's packages).
fact_package_tool() {
    case $1 in
        rpm) command -v rpm || return 1
             if rpm --help 2>&1 | grep -q -- --force-debian; then echo debian-rpm; fi ;;
        deb) command -v dpkg && command -v dpkg-query ;;
        *) command -v tar && command -v gzip ;;
    esac
}

fact_rpm_query() {
    rpm -q --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n' "$1"
}

fact_dpkg_query() {
    dpkg-query -W -f '${Version} ${Architecture} ${db:Status-Abbrev}\n' "$1"
}

# What a release directory holds: "mark CONTENT" when clusterctl unpacked it (its mark file),
# "unmarked" when someone else did, nothing when it is absent.
fact_release_mark() {
    local dir=$1 mark=$2
    if [ -f "$dir/$mark" ]; then
        printf 'mark %s\n' "$(head -c 200 -- "$dir/$mark")"
    elif [ -e "$dir" ]; then
        echo unmarked
    fi
}

# What a user's login shell (through /etc/profile.d) finds: JAVA_HOME, java, and its version;
# with RUN_JVM=1 java -version really runs, else the version comes from the JDK's release file.
fact_login_java() {
    local run_jvm=$1
    # shellcheck disable=SC2016  # expanded by the login shell, not here
    local show='echo "JAVA_HOME=$JAVA_HOME"; echo "java=$(command -v java)"; [ -x "$(command -v java)" ] || echo not-executable'
    if [ "$run_jvm" = 1 ]; then
        bash -lc "$show; java -version" 2>&1
    else
        # shellcheck disable=SC2016
        bash -lc "$show"'; sed -n "s/^JAVA_VERSION=/release_version=/p" "$JAVA_HOME/release" | tr -d "\""' 2>&1
    fi
}

# The ZooKeeper server zkServer.sh started: "PID SECONDS_RUNNING SECONDS_SINCE_CONFIG_CHANGED"
# (the newest mtime of the files given); fails when none runs.
fact_zk_server() {
    local pid_file=$1 pid newest
    shift
    pid=$(cat -- "$pid_file" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
        grep -qa QuorumPeerMain "/proc/$pid/cmdline" || return 1
    newest=$(stat -c %Y -- "$@" 2>/dev/null | sort -n | tail -n 1)
    echo "$pid $(ps -o etimes= -p "$pid" | tr -d ' ') $(( $(date +%s) - ${newest:-0} ))"
}

# Which network configuration system the host uses.
fact_net_backend() {
    if [ -d /etc/sysconfig/network-scripts ]; then echo ifcfg
    elif command -v nmcli >/dev/null && nmcli -t -f RUNNING general 2>/dev/null | grep -q running; then
        echo nmconnection
    elif [ -d /etc/netplan ] && command -v netplan >/dev/null; then echo netplan
    elif systemctl is-active -q systemd-networkd 2>/dev/null; then echo networkd
    else echo none
    fi
}

fact_ipv4_addresses() {
    ip -o -4 addr show dev "$1" scope global | awk '{print $4}'
}

# The first of the paths that exists: its path on one line, then its content.
fact_first_file() {
    local path
    for path in "$@"; do
        if [ -f "$path" ]; then
            echo "$path"
            cat -- "$path"
            return 0
        fi
    done
}

main() {
    local name kind count rc
    while [ $# -ge 3 ]; do
        name=$1 kind=$2 count=$3
        shift 3
        printf '\036clusterctl-fact %s\n' "$name"
        ( "fact_$kind" "${@:1:$count}" ) 2>/dev/null </dev/null
        rc=$?
        printf '\n\036clusterctl-fact-rc %s\n' "$rc"
        shift "$count"
    done
}

main "$@"
