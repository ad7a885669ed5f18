# A static address with a safety net, like `netplan try`.
#
#   bash -s -- launch STATE IFACE CONFIG BACKEND TIMEOUT   start `apply` detached, from STATE/net.sh
#   bash -s -- apply STATE IFACE CONFIG BACKEND TIMEOUT    (detached) install STATE/config as CONFIG,
#                                                          reload, roll back unless STATE/confirmed
#                                                          appears within TIMEOUT seconds
#   bash -s -- confirm STATE                               the controller reached the new address: prints
#                                                          the node's verdict, confirmed (exit 0); exit 3
#                                                          while the new config is not live yet (ask
#                                                          again), 1 when the node rolled back already
#   bash -s -- status STATE                                applied | confirmed | rolled-back
#
# The controller writes this script to STATE/net.sh and the new config to
# STATE/config first: the detached apply outlives the SSH session that
# started it, which the address change ends.
set -u

# How each backend makes its config live. ifcfg without NetworkManager or ifup (a minimal
# host, or the lab) falls back to applying the file with ip.
reload() {
    local backend=$1 iface=$2 config=$3
    case $backend in
        ifcfg)
            if command -v nmcli >/dev/null && nmcli -t general >/dev/null 2>&1; then
                nmcli connection reload && nmcli connection up ifname "$iface"
            elif command -v ifup >/dev/null; then
                ifdown "$iface"
                ifup "$iface"
            else
                local IPADDR="" PREFIX="" GATEWAY=""
                # shellcheck disable=SC1090  # the config clusterctl rendered: KEY=value lines
                . "$config"
                ip addr flush dev "$iface" scope global && ip addr add "$IPADDR/$PREFIX" dev "$iface" &&
                    { [ -z "$GATEWAY" ] || ip route replace default via "$GATEWAY" dev "$iface"; }
            fi ;;
        nmconnection) nmcli connection reload && nmcli connection up "clusterctl-$iface" ;;
        netplan) netplan apply ;;
        networkd) networkctl reload && networkctl reconfigure "$iface" ;;
    esac
}

apply() {
    local state=$1 iface=$2 config=$3 backend=$4 timeout=$5 waited=0 cidr route
    mkdir -p "$(dirname -- "$config")"
    ip -o -4 addr show dev "$iface" scope global | awk '{print $4}' > "$state/addresses"
    ip -4 route show default > "$state/routes"
    if [ -f "$config" ]; then cp -p -- "$config" "$state/previous"; fi
    cp -- "$state/config" "$config.clusterctl-tmp" && mv -f -- "$config.clusterctl-tmp" "$config"
    sleep 1
    ( reload "$backend" "$iface" "$config" ) > "$state/reload.log" 2>&1
    echo applied > "$state/status"
    while [ "$waited" -lt "$timeout" ]; do
        if [ -e "$state/confirmed" ]; then
            echo confirmed > "$state/status"
            return 0
        fi
        sleep 1
        waited=$((waited + 1))
    done
    if [ -f "$state/previous" ]; then cp -p -- "$state/previous" "$config"; else rm -f -- "$config"; fi
    ip addr flush dev "$iface" scope global
    while read -r cidr; do [ -n "$cidr" ] && ip addr add "$cidr" dev "$iface"; done < "$state/addresses"
    # shellcheck disable=SC2086  # a route is several words
    while read -r route; do [ -n "$route" ] && ip route replace $route; done < "$state/routes"
    echo rolled-back > "$state/status"
}

# A confirmation counts only once the new config is live (before that, reaching the node proves
# nothing), and only if the apply loop, which looks once a second, takes it before its time is up.
confirm() {
    local state=$1 status tries=0
    status=$(cat -- "$state/status" 2>/dev/null)
    case $status in
        applied) ;;
        confirmed) echo confirmed; return 0 ;;
        rolled-back) echo "net.sh: too late, the node has rolled back" >&2; return 1 ;;
        *) echo "net.sh: the new config is not live yet" >&2; return 3 ;;
    esac
    if ! touch -- "$state/confirmed"; then
        echo "net.sh: cannot write $state/confirmed" >&2
        return 1
    fi
    while [ "$tries" -lt 50 ]; do
        sleep 0.1
        status=$(cat -- "$state/status" 2>/dev/null)
        case $status in
            confirmed) echo confirmed; return 0 ;;
            rolled-back) echo "net.sh: too late, the node has rolled back" >&2; return 1 ;;
        esac
        tries=$((tries + 1))
    done
    echo "net.sh: the node did not take the confirmation within 5s (status: ${status:-none})" >&2
    return 1
}

launch() {
    setsid nohup bash "$1/net.sh" apply "$@" </dev/null >/dev/null 2>&1 &
}

main() {
    local action=$1
    shift
    case $action in
        launch) launch "$@" ;;
        apply) apply "$@" ;;
        confirm) confirm "$1" ;;
        status) cat "$1/status" 2>/dev/null || echo unknown ;;
        *) echo "net.sh: unknown action $action" >&2; return 2 ;;
    esac
}

main "$@"
