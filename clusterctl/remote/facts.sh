# clusterctl's fact vocabulary: what a host is now, asked in one round trip.
#
# Every run of clusterctl asks every host this, so the facts cost few processes: bash's own
# expansions and builtins stand in for dirname, basename, cat, cut, date and awk where they can
# (a converged server's fifty facts once took a third of a second of the node's CPU), and a
# command that can answer for several paths at once (df, stat, ss) is run once.
#
# Run as `bash -s -- NAME KIND NARGS ARG... [NAME KIND NARGS ARG...]...` with
# this file on stdin. For every query it prints
#   \036clusterctl-fact NAME\n  <output of fact_KIND ARG...>  \n\036clusterctl-fact-rc RC\n
# Facts only read: nothing here changes the host. A path starting with ~/ is
# under the connecting user's home.

# Sets $expanded to PATH with ~ expanded (in this shell: no process): ~/PATH is under the home of
# the user running this; ~USER/PATH under USER's (the facts run as root when the login user is
# not, while SSH trust is about that user's or another's files).
expand() {
    local user rest home=""
    case $1 in
        \~/*) expanded="$HOME/${1#\~/}" ;;
        \~*/*)
            rest=${1#\~}
            user=${rest%%/*}
            IFS=: read -r _ _ _ _ _ home _ < <(getent passwd "$user")
            expanded="${home:-/nonexistent-home-of-$user}/${rest#*/}" ;;
        *) expanded=$1 ;;
    esac
}

# Sets $parent to dirname PATH, without a process.
parent_of() {
    local path=$1
    while [ "${#path}" -gt 1 ] && [ "${path%/}" != "$path" ]; do path=${path%/}; done
    case $path in
        */*) path=${path%/*}
             while [ "${#path}" -gt 1 ] && [ "${path%/}" != "$path" ]; do path=${path%/}; done
             parent=${path:-/} ;;
        *) parent=. ;;
    esac
}

# Sets $head to at most the first COUNT characters of FILE, trailing newlines dropped (as $(head -c) would).
head_of() {
    head=""
    IFS= read -r -d '' -N "$2" head < "$1"
    while [ "${head%$'\n'}" != "$head" ]; do head=${head%$'\n'}; done
}

# The content of a file; fails when there is none.
fact_file() {
    expand "$1"
    cat -- "$expanded"
}

# The sha256 of a file's content (a file of secrets is compared, never read back); fails when there is none.
fact_sha256() {
    local sum
    expand "$1"
    sum=$(sha256sum -- "$expanded") || return 1
    printf '%s\n' "${sum%% *}"
}

# Succeeds when every path is a directory.
fact_dirs() {
    local path
    for path in "$@"; do
        expand "$path"
        [ -d "$expanded" ] || return 1
    done
}

# "link TARGET" for a symbolic link, "other" for anything else there, nothing when absent.
fact_link() {
    local path
    expand "$1"
    path=$expanded
    if [ -L "$path" ]; then
        printf 'link %s\n' "$(readlink -- "$path")"
    elif [ -e "$path" ]; then
        echo other
    fi
}

# "MODE OWNER GROUP" of each path, one line each; fails when one is missing.
fact_stat() {
    local path paths=()
    for path in "$@"; do
        expand "$path"
        paths+=("$expanded")
    done
    stat -c '%a %U %G' -- "${paths[@]}"
}

# The login name of the connecting user, or with USER, USER's name and primary group.
fact_whoami() {
    if [ $# -gt 0 ]; then echo "$1 $(id -gn "$1" 2>/dev/null)"; else id -un; fi
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
    expand "$1"
    key=$expanded
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
    local final=$1 stamp=$2 size=$3 got mtime stamp_mtime="" stamped="" part parent head paths
    [ -f "$final" ] || return 0
    paths=("$final")
    if [ -f "$stamp" ]; then paths+=("$stamp"); else stamp=""; fi
    { IFS='|' read -r got mtime; IFS='|' read -r _ stamp_mtime; } < <(stat -c '%s|%y' -- "${paths[@]}")
    echo "size $got"
    echo "mtime $mtime"
    if [ -n "$stamp" ]; then
        echo "stamp-mtime $stamp_mtime"
        head_of "$stamp" 100
        echo "stamp $head"
        [ "$stamp_mtime" = "$mtime" ] && stamped=yes
    fi
    if [ "$got" = "$size" ] && [ -z "$stamped" ]; then
        echo "hash $(openssl dgst -sha256 -r < "$final" 2>/dev/null || sha256sum < "$final")"
    fi
    parent_of "$final"
    part="$parent/.${final##*/}.clusterctl-part"
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
    local head
    if [ -f "$dir/$mark" ]; then
        head_of "$dir/$mark" 200
        printf 'mark %s\n' "$head"
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

# The ZooKeeper server that runs, and how: one line "PID SECONDS_RUNNING MANAGER USER" (MANAGER
# is "systemd" when it is the unit's main process, else "zkserver": started by zkServer.sh),
# then "SECONDS_SINCE_CHANGE PATH" for each config file given that exists; fails when none runs.
fact_zk_server() {
    local unit=$1 pid_file=$2 pid="" manager=zkserver path seconds user now mtime existing=()
    shift 2
    if [ -d /run/systemd/system ]; then
        pid=$(systemctl show -p MainPID --value "$unit" 2>/dev/null)
        [ "$pid" = 0 ] && pid=""
        [ -n "$pid" ] && manager=systemd
    fi
    if [ -z "$pid" ] && [ -f "$pid_file" ]; then
        read -r pid < "$pid_file" || true
    fi
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qa QuorumPeerMain "/proc/$pid/cmdline" || return 1
    read -r seconds user < <(ps -o etimes=,user= -p "$pid")
    echo "$pid $seconds $manager $user"
    printf -v now '%(%s)T' -1
    for path in "$@"; do
        [ -e "$path" ] && existing+=("$path")
    done
    [ ${#existing[@]} -gt 0 ] || return 0
    while read -r mtime path; do
        echo "$(( now - mtime )) $path"
    done < <(stat -c '%Y %n' -- "${existing[@]}")
    return 0
}

# The membership file a static zoo.cfg names (dynamicConfigFile): its path, then its content;
# nothing when there is none yet.
fact_zk_dynamic() {
    local file
    file=$(sed -n 's/^[[:space:]]*dynamicConfigFile[[:space:]]*=[[:space:]]*//p' "$1" 2>/dev/null | tail -n 1)
    [ -n "$file" ] && [ -f "$file" ] || return 0
    echo "$file"
    cat -- "$file"
}

# How many snapshots and transaction logs the data directories hold.
fact_zk_data() {
    local dir file count=0
    for dir in "$@"; do
        for file in "$dir"/version-2/snapshot.* "$dir"/version-2/log.*; do
            [ -f "$file" ] && [ ! -L "$file" ] && count=$((count + 1))
        done
    done
    echo "$count"
}

# Whether systemd runs the host: "systemd STATE" (is-system-running), or "none".
fact_init_system() {
    if [ -d /run/systemd/system ]; then
        echo "systemd $(systemctl is-system-running 2>/dev/null)"
    else
        echo none
    fi
}

# A system account: "user UID GID HOME SHELL" and "group GID", each when it exists.
fact_account() {
    local entry uid gid home shell
    if entry=$(getent passwd "$1"); then
        IFS=: read -r _ _ uid gid _ home shell <<< "$entry"
        echo "user $uid $gid $home $shell"
    fi
    if entry=$(getent group "$2"); then
        IFS=: read -r _ _ gid _ <<< "$entry"
        echo "group $gid"
    fi
    return 0
}

# A unit's state: "enabled STATE" (systemctl is-enabled) and "active STATE".
fact_unit_state() {
    echo "enabled $(systemctl is-enabled "$1" 2>/dev/null || true)"
    echo "active $(systemctl is-active "$1" 2>/dev/null || true)"
}

# The complete backups under ROOT (directories holding a manifest.json): "NAME MTIME", one line each.
fact_backups() {
    local dir
    for dir in "$1"/*/; do
        [ -f "$dir/manifest.json" ] && printf '%s %s\n' "$(basename -- "$dir")" "$(stat -c %Y -- "$dir/manifest.json")"
    done
    return 0
}

# Free space for each path, on the filesystem it will be on (its nearest existing directory):
# "PATH BYTES_FREE DEVICE MOUNT_POINT", one line each.
fact_disk_free() {
    local path at parent avail source target i lines ats=()
    for path in "$@"; do
        at=$path
        while [ ! -e "$at" ] && [ "$at" != / ]; do parent_of "$at"; at=$parent; done
        ats+=("$at")
    done
    [ $# -gt 0 ] || return 0
    # One df for every path: a line for each argument, in their order, after the header. Should one
    # fail (a path that vanished meanwhile), the lines no longer pair up: then one df per path.
    mapfile -t lines < <(df -B1 --output=avail,source,target -- "${ats[@]}")
    if [ ${#lines[@]} -ne $(($# + 1)) ]; then
        lines=("")
        for at in "${ats[@]}"; do
            lines+=("$(df -B1 --output=avail,source,target -- "$at" | tail -n 1)")
        done
    fi
    for ((i = 1; i <= $#; i++)); do
        read -r avail source target <<< "${lines[i]}"
        printf '%s %s %s %s\n' "${!i}" "$avail" "$source" "$target"
    done
}

# Memory and swap in kB, from /proc/meminfo: "MemTotal N", "MemAvailable N", "SwapTotal N".
fact_memory() {
    local key value
    while read -r key value _; do
        case $key in
            MemTotal:|MemAvailable:|SwapTotal:) echo "${key%:} $value" ;;
        esac
    done < /proc/meminfo
}

# Who listens on each TCP port: "PORT free" or "PORT PID COMMAND".
fact_listening() {
    local port listing local_address rest found matched pid name
    listing=$(ss -Htlnp 2>/dev/null)
    for port in "$@"; do
        matched="" found=""
        while read -r _ _ _ local_address _ rest; do
            if [ "${local_address##*:}" = "$port" ]; then matched=yes found=$rest; break; fi
        done <<< "$listing"
        if [ -z "$matched" ]; then
            echo "$port free"
            continue
        fi
        pid="" name=""
        [[ $found =~ .*pid=([0-9]*) ]] && pid=${BASH_REMATCH[1]}
        [[ $found =~ \(\(\"([^\"]*)\" ]] && name=${BASH_REMATCH[1]}
        echo "$port $pid $name"
    done
}

# The certificates of a PEM file, without anything else it holds (a keystore's private key never leaves).
fact_pem_certs() {
    [ -f "$1" ] || return 1
    sed -n '/^-----BEGIN CERTIFICATE-----$/,/^-----END CERTIFICATE-----$/p' "$1"
}

# The local addresses a TCP port listens on, one a line ("*:2181", "127.0.0.1:2181"); none when it is free.
fact_bound() {
    ss -Htln "sport = :$1" 2>/dev/null | awk '{print $4}'
}

# How many TCP connections from other hosts are established to each local PORT: "PORT COUNT".
fact_connected() {
    local port
    for port in "$@"; do
        echo "$port $(ss -Htn state established "sport = :$port" 2>/dev/null \
            | awk '$4 !~ /^(127\.|\[::1\]|\[::ffff:127\.)/ {n++} END {print n + 0}')"
    done
}

# The host's clock, in seconds since the epoch.
fact_clock() {
    date +%s.%N
}

# What each name resolves to on this host: "NAME ADDRESS", or "NAME -" when it does not.
fact_resolve() {
    local name address
    for name in "$@"; do
        address=$(getent ahostsv4 "$name" 2>/dev/null)
        address=${address%%[[:space:]]*}
        echo "$name ${address:--}"
    done
}

# How many disks the host has (for the advice to keep transaction logs on a disk of their own).
fact_disks() {
    lsblk -dn -o TYPE 2>/dev/null | grep -c '^disk$'
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
        # In this shell, not a subshell (a process per fact): the facts keep their variables local.
        "fact_$kind" "${@:1:$count}" 2>/dev/null </dev/null
        rc=$?
        printf '\n\036clusterctl-fact-rc %s\n' "$rc"
        shift "$count"
    done
}

main "$@"
