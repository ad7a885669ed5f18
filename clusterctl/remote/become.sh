# How the login user does root's work on this host (run as the login user, never through sudo).
#
#   bash -s -- probe    prints "root", "nopasswd" (sudo needs no password), "password" (it asks
#                       for one) or "none REASON" (no sudo rights, or no sudo)
#   bash -s -- check    < this script, then the password and a newline: does sudo take it?
#                       prints "ok", or "rejected REASON"
set -u

probe() {
    local out
    if [ "$(id -u)" = 0 ]; then echo root; return 0; fi
    if ! command -v sudo >/dev/null; then echo "none sudo is not installed"; return 0; fi
    if out=$(sudo -n true 2>&1); then echo nopasswd; return 0; fi
    case $out in
        *"password is required"*) echo password ;;
        *) echo "none $(printf '%s' "${out:-sudo refused}" | head -n 1)" ;;
    esac
}

# The password is read from stdin by sudo itself (-S, no prompt); -k makes sure it is asked for.
check() {
    local out
    if out=$(sudo -S -k -p '' true 2>&1); then
        echo ok
    else
        echo "rejected $(printf '%s' "${out:-sudo refused}" | grep -v '^$' | tail -n 1)"
    fi
}

main() {
    case $1 in
        probe) probe ;;
        check) check ;;
        *) echo "become.sh: unknown action $1" >&2; return 2 ;;
    esac
}

main "$@"
