#!/bin/bash
# The init of a lab node booted with '--init none': runs sshd, adopts and reaps
# orphaned daemons, and on SIGTERM stops every process of the node.

stop() {
    kill -TERM -1 2>/dev/null
    for _ in $(seq 20); do
        kill -0 -1 2>/dev/null || exit 0
        sleep 0.1
    done
    exit 0
}

trap stop TERM INT
/usr/sbin/sshd -D -e &
# 'wait' returns when its jobs end; a sleeping job keeps it blocked (no busy loop) once sshd is gone.
while :; do
    wait
    sleep infinity &
done
