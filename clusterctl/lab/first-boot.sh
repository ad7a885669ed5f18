#!/bin/bash
# A lab machine's accounts, made at its first boot by node-init.sh, before its init
# starts: root's password and, if the lab has one, the login user with its home
# (from /etc/skel), its password and the lab key. Commands that read the node's
# account databases run chrooted into the node's root; the files named here are
# on this machine.
# Arguments: the node's root, the file holding root's password; for a login user
# also its name, the file holding its password and the lab's public key file (or
# - to authorize no key).
set -eu
root=$1 root_password_file=$2 user=${3:-} user_password_file=${4:-} authorized_key_file=${5:-}

set_password() {
    printf '%s:%s\n' "$1" "$(cat "$2")" | chroot "$root" /usr/sbin/chpasswd
}

add_login_user() {
    chroot "$root" /usr/sbin/useradd --create-home --user-group --shell /bin/bash "$user"
    set_password "$user" "$user_password_file"
    if [ "$authorized_key_file" != - ]; then
        install -d -m 0700 "$root/home/$user/.ssh"
        install -m 0600 "$authorized_key_file" "$root/home/$user/.ssh/authorized_keys"
        chroot "$root" /bin/chown -R "$user:$user" "/home/$user/.ssh"
    fi
}

set_password root "$root_password_file"
if [ -n "$user" ]; then
    add_login_user
fi
