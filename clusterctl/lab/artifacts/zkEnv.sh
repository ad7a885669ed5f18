#!/usr/bin/env bash
# zkEnv.sh: the environment zkServer.sh, zkCli.sh and zkCleanup.sh share,
# written for the Apache binary-release layout (bin/ conf/ lib/ side by side)
# and behaving like upstream's: everything is found relative to this file, so
# the tree works wherever it is unpacked.
#
# Sourced, not run. Honours, as upstream does:
#   --config DIR   as the caller's first two arguments: the config directory
#   ZOOCFGDIR      config directory (default: $ZOOKEEPER_PREFIX/conf)
#   ZOOCFG         config file name in ZOOCFGDIR (default: zoo.cfg)
#   JAVA_HOME      java is $JAVA_HOME/bin/java, else `java` from PATH
#   ZOO_LOG_DIR    log directory (default: $ZOOKEEPER_PREFIX/logs)
#   ZK_SERVER_HEAP, ZK_CLIENT_HEAP   heap sizes in MB (defaults 1000 and 256)
#   $ZOOCFGDIR/zookeeper-env.sh and $ZOOCFGDIR/java.env, sourced when present.
# ZOOPIDFILE is left to zkServer.sh, which puts it in the configured dataDir.

if [ -z "$ZOOBINDIR" ]; then
  ZOOBINDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fi
ZOOKEEPER_PREFIX="$(cd "$ZOOBINDIR/.." && pwd)"

# Shifting here shifts the caller's arguments: `zkServer.sh --config DIR start`
# leaves zkServer.sh with `start`, as upstream's zkEnv.sh does.
if [ $# -gt 1 ] && [ "--config" = "$1" ]; then
  shift
  ZOOCFGDIR="$1"
  shift
fi

ZOOCFGDIR="${ZOOCFGDIR:-$ZOOKEEPER_PREFIX/conf}"

if [ -f "$ZOOCFGDIR/zookeeper-env.sh" ]; then
  . "$ZOOCFGDIR/zookeeper-env.sh"
fi

ZOOCFG="$ZOOCFGDIR/${ZOOCFG:-zoo.cfg}"

if [ -f "$ZOOCFGDIR/java.env" ]; then
  . "$ZOOCFGDIR/java.env"
fi

ZOO_LOG_DIR="${ZOO_LOG_DIR:-$ZOOKEEPER_PREFIX/logs}"

if [ -n "$JAVA_HOME" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  JAVA="$JAVA_HOME/bin/java"
elif type -p java > /dev/null; then
  JAVA=java
else
  echo "Error: JAVA_HOME is not set and java could not be found in PATH." 1>&2
  exit 1
fi

# conf/ first, so log4j.properties is found there; then every jar in lib/.
ZOO_CLASSPATH="$ZOOCFGDIR"
for jar in "$ZOOKEEPER_PREFIX"/lib/*.jar; do
  ZOO_CLASSPATH="$ZOO_CLASSPATH:$jar"
done
CLASSPATH="$ZOO_CLASSPATH${CLASSPATH:+:$CLASSPATH}"
unset ZOO_CLASSPATH jar

ZK_SERVER_HEAP="${ZK_SERVER_HEAP:-1000}"
export SERVER_JVMFLAGS="-Xmx${ZK_SERVER_HEAP}m $SERVER_JVMFLAGS"

ZK_CLIENT_HEAP="${ZK_CLIENT_HEAP:-256}"
export CLIENT_JVMFLAGS="-Xmx${ZK_CLIENT_HEAP}m $CLIENT_JVMFLAGS"
