#!/bin/bash
# Boots a lab node: run by bash as the first pid 1 of new mount, UTS and pid
# namespaces inside the node's network namespace, it builds the node's root
# and then becomes the node's init (systemd, or minimal-init.sh).
# Arguments: the node's disk directory (upper/, work/, merged/), its hostname,
# the init (systemd or none), the node's cgroup (its path in the machine's cgroup2 tree),
# the minimal init script and, on first boot only, the first-boot script and
# its arguments after the node's root (see first-boot.sh).
set -eu
disk=$1 hostname=$2 init=$3 cgroup=$4 minimal_init=$5
first_boot=("${@:6}")
root=$disk/merged

# What a container manager withholds from its guests: loading kernel modules,
# raw device I/O and setting the machine's clock.
dropped_capabilities=-sys_module,-sys_rawio,-sys_time,-wake_alarm,-block_suspend,-syslog

mount_proc() {
    mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
    # Kernel settings are the machine's, except the network ones, which are the node's own namespace.
    mount --bind "$root/proc/sys" "$root/proc/sys"
    mount -o remount,bind,ro "$root/proc/sys"
    mount --bind /proc/sys/net "$root/proc/sys/net"
    if [ -e /proc/sysrq-trigger ]; then
        mount --bind -o ro /proc/sysrq-trigger "$root/proc/sysrq-trigger"
    fi
}

mount_sys() {
    # This sysfs shows the node's network devices; read-only, as a container manager mounts it.
    mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
    # The node's cgroup becomes the root of its own cgroup2 tree: join it through the machine's
    # whole tree (a fresh sysfs has none mounted), then mount from a cgroup namespace rooted there.
    local tree=$root/sys/fs/cgroup
    mount -t cgroup2 cgroup2 "$tree"
    echo 0 > "$tree/$cgroup/cgroup.procs"
    umount "$tree"
    unshare --cgroup mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$tree"
}

mount_dev() {
    # A /dev of its own: the machine's has its consoles, disks and kernel log, which are not the node's
    # (systemd would start gettys on them and log to them). With no /dev/console, systemd logs to its
    # journal only; this script's own output goes to the node's console log.
    mount -t tmpfs -o nosuid,mode=0755,size=4m dev "$root/dev"
    cp -a /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty "$root/dev/"
    mkdir -m 0755 "$root/dev/pts" "$root/dev/net"
    mkdir -m 1777 "$root/dev/shm"
    mount -t devpts -o newinstance,nosuid,noexec,gid=5,mode=0620,ptmxmode=0666 devpts "$root/dev/pts"
    mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$root/dev/shm"
    ln -s pts/ptmx "$root/dev/ptmx"
    ln -s /proc/self/fd "$root/dev/fd"
    ln -s /proc/self/fd/0 "$root/dev/stdin"
    ln -s /proc/self/fd/1 "$root/dev/stdout"
    ln -s /proc/self/fd/2 "$root/dev/stderr"
}

mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=/,upperdir=$disk/upper,workdir=$disk/work" "$root"
mount_proc
mount_sys
mount_dev
# /run and /tmp start empty at each boot.
mount -t tmpfs -o nosuid,nodev,mode=0755 run "$root/run"
mkdir -m 1777 "$root/run/lock"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp "$root/tmp"
# A boot id of its own, as container managers give one: the journal tells one boot from the next by it.
mkdir -m 0755 "$root/run/clusterctl-lab"
cat /proc/sys/kernel/random/uuid > "$root/run/clusterctl-lab/boot_id"
mount --bind -o ro "$root/run/clusterctl-lab/boot_id" "$root/proc/sys/kernel/random/boot_id"
hostname "$hostname"
if [ ${#first_boot[@]} -gt 0 ]; then
    bash "${first_boot[0]}" "$root" "${first_boot[@]:1}"
fi
case $init in
    systemd) argv=(/lib/systemd/systemd) ;;
    none)
        mkdir -m 0755 "$root/run/sshd"
        cp "$minimal_init" "$root/run/clusterctl-lab/init"
        argv=(/bin/bash /run/clusterctl-lab/init)
        ;;
    *) echo "node-init.sh: unknown init '$init'" >&2; exit 2 ;;
esac
# Leave only the node's own mounts in its view: the machine's tree is detached.
cd "$root"
pivot_root . .
umount -l .
cd /
# As container managers tell the guest's init (systemd reads it to know it runs in a container).
export container=clusterctl-lab
exec setpriv --bounding-set "$dropped_capabilities" -- unshare --cgroup -- "${argv[@]}"
