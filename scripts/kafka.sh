#!/usr/bin/env bash
# Local Apache Kafka broker (KRaft combined mode, single node) for development and tests, without Docker.
#
#   bash scripts/kafka.sh start    # fetch jars if needed, format storage, start detached, wait until READY
#   bash scripts/kafka.sh stop     # SIGTERM (controlled shutdown), wait, SIGKILL as a last resort
#   bash scripts/kafka.sh status   # prints "running ..." (exit 0) or "not running" (exit 3)
#
# The jars come from Maven Central via scripts/kafka/pom.xml; the broker is run with `java`.
# Everything lives under <repo>/.kafka/ (gitignored): libs-<version>/ and data-<version>/ (one of each per Kafka
# version, so switching versions neither refetches nor mixes storage formats), logs/, server.properties, kafka.pid,
# broker-version (the version and address of the broker last made ready).
# Broker: PLAINTEXT://127.0.0.1:9092, controller: 127.0.0.1:9093 (127.0.0.1 only, never localhost).
#
# Kafka 4.x (the default) and 3.9 differ in three places, all handled here: logging (4.x: log4j2, configured by
# scripts/kafka/log4j2.xml with the log4j-slf4j-impl binding; 3.9: log4j 1 via reload4j and log4j.properties), the
# KRaft quorum (4.x: a dynamic quorum, controller.quorum.bootstrap.servers, formatted with --standalone; 3.9: a
# static controller.quorum.voters, formatted without it) and the Maven profile that picks the logging jars.
# READY is decided by scripts/kafka-ready.mjs (port answers, admin lists topics, produce/consume round trip
# through a throwaway topic and group, which also creates __consumer_offsets).
#
# Environment knobs (all optional):
#   KAFKA_START_TIMEOUT   seconds to wait for READY after launching, default 120
#   KAFKA_STOP_TIMEOUT    seconds to wait for exit after SIGTERM before SIGKILL, default 30
#   KAFKA_HEAP_OPTS       default "-Xms512m -Xmx512m"
#   KAFKA_VERSION         Apache Kafka version, default <kafka.version> of scripts/kafka/pom.xml (4.4.0; 3.9.x works
#                         too); start restarts a broker of this checkout that runs another version or on other ports
#   KAFKA_PORT            broker port, default 9092
#   KAFKA_CONTROLLER_PORT controller port, default 9093
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd -P)"
KAFKA_DIR="$REPO_ROOT/.kafka"
# The default version is the one scripts/kafka/pom.xml names (test/support/secured-kafka.ts reads it there too).
DEFAULT_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$SCRIPT_DIR/kafka/pom.xml")"
VERSION="${KAFKA_VERSION:-$DEFAULT_VERSION}"
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { printf '[kafka] KAFKA_VERSION must look like 4.4.0, not "%s"\n' "$VERSION" >&2; exit 2; }
MAJOR="${VERSION%%.*}"
LIBS_DIR="$KAFKA_DIR/libs-$VERSION"
DATA_DIR="$KAFKA_DIR/data-$VERSION"
FORMAT_MARKER="$DATA_DIR/.formatted-for"
VERSION_FILE="$KAFKA_DIR/broker-version"
LOGS_DIR="$KAFKA_DIR/logs"
PROPS_FILE="$KAFKA_DIR/server.properties"
PID_FILE="$KAFKA_DIR/kafka.pid"
LOCK_FILE="$KAFKA_DIR/.lock"
FETCH_MARKER="$LIBS_DIR/.fetched"
POM_FILE="$SCRIPT_DIR/kafka/pom.xml"
if ((MAJOR >= 4)); then
  LOG4J_OPT="-Dlog4j2.configurationFile=$SCRIPT_DIR/kafka/log4j2.xml"
  MAVEN_PROFILE=log4j2
else
  LOG4J_OPT="-Dlog4j.configuration=file:$SCRIPT_DIR/kafka/log4j.properties"
  MAVEN_PROFILE=log4j1
fi
READY_SCRIPT="$SCRIPT_DIR/kafka-ready.mjs"
STDOUT_LOG="$LOGS_DIR/kafka-stdout.log"

HOST=127.0.0.1
BROKER_PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
# Fixed cluster id (any 16-byte base64url UUID; made once with `kafka.tools.StorageTool random-uuid`).
CLUSTER_ID="Td_lfiV0QF6H3JB-EqBu4w"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms512m -Xmx512m}"

log() { printf '[kafka] %s\n' "$*"; }
err() { printf '[kafka] %s\n' "$*" >&2; }

# The project's Node (24, from node_modules) when present; the machine's node otherwise.
node_bin() {
  if [[ -x "$REPO_ROOT/node_modules/.bin/node" ]]; then
    printf '%s\n' "$REPO_ROOT/node_modules/.bin/node"
  else
    command -v node
  fi
}

port_open() { # port_open PORT -> 0 when something accepts a TCP connection on 127.0.0.1:PORT
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# Is PID a live java process running *this* checkout's broker?
is_our_broker() {
  local pid="$1" cmdline
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *" kafka.Kafka $PROPS_FILE"* ]]
}

# Prints the broker pid (from the pid file, else by scanning command lines for this .kafka dir); 1 if none.
find_pid() {
  local pid
  if [[ -f "$PID_FILE" ]]; then
    pid="$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && is_our_broker "$pid"; then
      printf '%s\n' "$pid"
      return 0
    fi
  fi
  local d
  for d in /proc/[0-9]*; do
    pid="${d#/proc/}"
    [[ "$pid" == "$$" ]] && continue
    if is_our_broker "$pid"; then
      printf '%s\n' "$pid"
      return 0
    fi
  done
  return 1
}

clean_stale_pid_file() {
  if [[ -f "$PID_FILE" ]]; then
    local pid
    pid="$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)"
    if [[ -z "$pid" ]] || ! is_our_broker "$pid"; then
      log "removing stale pid file (pid ${pid:-?} is not a running broker)"
      rm -f "$PID_FILE"
    fi
  fi
}

# Line counts of the log files when this start began, so a failure shows only this run's lines.
declare -A LOG_MARK=()
mark_logs() {
  local f
  for f in "$LOGS_DIR/server.log" "$STDOUT_LOG"; do
    LOG_MARK["$f"]=$( (wc -l <"$f") 2>/dev/null || echo 0)
  done
}

print_log_tail() {
  local f from lines
  for f in "$LOGS_DIR/server.log" "$STDOUT_LOG"; do
    [[ -s "$f" ]] || continue
    from=$((${LOG_MARK["$f"]:-0} + 1))
    lines="$(tail -n +"$from" "$f" 2>/dev/null | tail -n 60)" || true
    [[ -n "${lines//[$'\n ']/}" ]] || continue
    err "---- ${f#"$REPO_ROOT"/} (last lines) ----"
    printf '%s\n' "$lines" >&2
  done
}

# readiness_check SECONDS -> runs scripts/kafka-ready.mjs with that overall deadline.
readiness_check() {
  local secs="$1" node
  if ! node="$(node_bin)"; then
    err "node not found; run npm ci first"
    return 1
  fi
  if [[ ! -d "$REPO_ROOT/node_modules/kafkajs" ]]; then
    err "node_modules/kafkajs is missing; run npm ci first"
    return 1
  fi
  KAFKA_BROKERS="$HOST:$BROKER_PORT" KAFKA_READY_TIMEOUT_MS="$((secs * 1000))" "$node" --disable-warning=TimeoutNegativeWarning "$READY_SCRIPT" </dev/null
}

pom_fingerprint() { printf '%s %s\n' "$VERSION" "$(cksum <"$POM_FILE" | awk '{print $1 "-" $2}')"; }

fetch_jars() {
  local want have=""
  want="$(pom_fingerprint)"
  [[ -f "$FETCH_MARKER" ]] && have="$(cat "$FETCH_MARKER" 2>/dev/null || true)"
  if [[ "$have" == "$want" ]] && compgen -G "$LIBS_DIR/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null || { err "mvn (Maven) is required to fetch the Kafka jars"; return 1; }
  log "fetching Kafka $VERSION jars with Maven (scripts/kafka/pom.xml) ..."
  local tmp="$KAFKA_DIR/libs.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! mvn -B -q -Dstyle.color=never -f "$POM_FILE" -P "$MAVEN_PROFILE" -Dkafka.version="$VERSION" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" </dev/null >"$LOGS_DIR/maven-fetch.log" 2>&1; then
    err "Maven failed to fetch the Kafka jars:"
    tail -n 40 "$LOGS_DIR/maven-fetch.log" >&2 || true
    rm -rf "$tmp"
    return 1
  fi
  if ! compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null; then
    err "Maven finished but no kafka_2.13 jar was copied"
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$LIBS_DIR"
  mv "$tmp" "$LIBS_DIR"
  printf '%s\n' "$want" >"$FETCH_MARKER" # written last: its presence means a complete fetch
  local jar
  for jar in "$LIBS_DIR"/kafka_2.13-*.jar; do log "jars ready: ${jar##*/} (+ dependencies in ${LIBS_DIR#"$REPO_ROOT"/})"; done
}

# 4.x: a dynamic KRaft quorum (KIP-853), the controller advertising its own endpoint; 3.9: the static voter list.
quorum_properties() {
  if ((MAJOR >= 4)); then
    printf '%s\n' "controller.quorum.bootstrap.servers=$HOST:$CONTROLLER_PORT" \
      "advertised.listeners=PLAINTEXT://$HOST:$BROKER_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT"
  else
    printf '%s\n' "controller.quorum.voters=1@$HOST:$CONTROLLER_PORT" "advertised.listeners=PLAINTEXT://$HOST:$BROKER_PORT"
  fi
}

write_properties() {
  local tmp="$PROPS_FILE.tmp.$$"
  cat >"$tmp" <<EOF
# Generated by scripts/kafka.sh for Kafka $VERSION; rewritten on every start. Single-node KRaft (combined broker+controller).
process.roles=broker,controller
node.id=1
$(quorum_properties)
listeners=PLAINTEXT://$HOST:$BROKER_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=3
num.io.threads=8
log.retention.hours=168
log.segment.bytes=1073741824
EOF
  mv "$tmp" "$PROPS_FILE"
}

# Same JVM flags as the distribution's kafka-run-class.sh (heap set separately).
java_common_opts() {
  JAVA_OPTS=(-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
    -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true
    "-Dkafka.logs.dir=$LOGS_DIR" "$LOG4J_OPT"
    -cp "$LIBS_DIR/*")
}

format_storage() {
  # The quorum's endpoints are part of 4.x's formatted storage: reformat when the ports changed.
  local want="$VERSION controller=$HOST:$CONTROLLER_PORT"
  if [[ -f "$DATA_DIR/meta.properties" ]]; then
    if [[ "$(cat "$FORMAT_MARKER" 2>/dev/null || true)" == "$want" ]]; then
      return 0 # already formatted for this version and these ports: reuse it
    fi
    log "storage ${DATA_DIR#"$REPO_ROOT"/} was formatted for other ports; formatting it anew (its topics are dropped)"
    rm -rf "$DATA_DIR"
    mkdir -p "$DATA_DIR"
  fi
  log "formatting storage for Kafka $VERSION (cluster id $CLUSTER_ID)"
  java_common_opts
  local -a quorum=()
  ((MAJOR >= 4)) && quorum=(--standalone)
  if ! java -Xms64m -Xmx256m "${JAVA_OPTS[@]}" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$PROPS_FILE" \
      "${quorum[@]}" --ignore-formatted </dev/null >"$LOGS_DIR/storage-format.log" 2>&1 9>&-; then
    err "storage format failed:"
    cat "$LOGS_DIR/storage-format.log" >&2 || true
    return 1
  fi
  printf '%s\n' "$want" >"$FORMAT_MARKER"
}

launch() {
  java_common_opts
  local -a heap
  read -r -a heap <<<"$HEAP_OPTS"
  local gc_log="-Xlog:gc*:file=$LOGS_DIR/kafkaServer-gc.log:time,tags:filecount=2,filesize=10M"
  {
    printf '\n==== %s starting kafka.Kafka ====\n' "$(date '+%Y-%m-%d %H:%M:%S')"
  } >>"$STDOUT_LOG"
  # Fully detached: own session, no stdin, output to a file, so the calling npm script can return.
  (
    cd "$KAFKA_DIR"
    # Close every inherited descriptor above 2 (the start/stop lock, and any pipe of a caller, such as a CI
    # runner or $(...), that would otherwise wait for the long-lived broker to close it).
    for fd in /proc/"$BASHPID"/fd/*; do
      fd="${fd##*/}"
      if [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid nohup java "${heap[@]}" "${JAVA_OPTS[@]}" "$gc_log" kafka.Kafka "$PROPS_FILE" \
      </dev/null >>"$STDOUT_LOG" 2>&1
  ) &
  local pid=$!
  # setsid execs in place (the subshell is not a process-group leader), so $! is the java pid; verify.
  local i
  for ((i = 0; i < 50; i++)); do
    if is_our_broker "$pid"; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if ! is_our_broker "$pid"; then
    pid="$(find_pid || true)"
  fi
  if [[ -z "$pid" ]]; then
    err "the broker process exited immediately"
    print_log_tail
    return 1
  fi
  printf '%s\n' "$pid" >"$PID_FILE"
  LAUNCHED_PID="$pid"
}

# wait_ready PID SECONDS -> 0 when READY; 1 on timeout or if the process dies.
wait_ready() {
  local pid="$1" secs="$2" start now left
  start=$(date +%s)
  # Phase 1: the port answers (cheap poll, bails out as soon as the process dies).
  while ! port_open "$BROKER_PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      err "the broker process (pid $pid) exited during startup"
      return 1
    fi
    now=$(date +%s)
    if ((now - start >= secs)); then
      err "port $HOST:$BROKER_PORT did not open within ${secs}s"
      return 1
    fi
    sleep 0.25
  done
  # Phase 2: admin + produce/consume round trip, bounded by what is left of the deadline.
  now=$(date +%s)
  left=$((secs - (now - start)))
  ((left < 10)) && left=10
  readiness_check "$left"
}

# Does the running broker PID use this version's jars and the asked ports (its server.properties is not yet rewritten)?
runs_as_asked() {
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *" $LIBS_DIR/* "* ]] || return 1
  grep -qxF "listeners=PLAINTEXT://$HOST:$BROKER_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT" "$PROPS_FILE" 2>/dev/null
}

# For tests that assert which broker they ran on (test/kafka/kafka4-compat.test.ts): "<version> <host:port>".
record_version() { printf '%s %s\n' "$VERSION" "$HOST:$BROKER_PORT" >"$VERSION_FILE"; }

cmd_start() {
  mkdir -p "$KAFKA_DIR" "$LOGS_DIR" "$DATA_DIR"
  # Serialise concurrent start/stop calls from this checkout.
  exec 9>"$LOCK_FILE"
  if ! flock -w 300 9; then
    err "another kafka.sh is holding $LOCK_FILE"
    exit 1
  fi

  local pid
  if pid="$(find_pid)" && ! runs_as_asked "$pid"; then
    log "broker of this checkout (pid $pid) runs another Kafka version or other ports; restarting it as $VERSION on $HOST:$BROKER_PORT"
    stop_pid "$pid" || { err "could not stop pid $pid"; exit 1; }
    rm -f "$PID_FILE" "$VERSION_FILE"
    pid=""
  fi
  if [[ -n "$pid" ]]; then
    printf '%s\n' "$pid" >"$PID_FILE"
    log "broker already running (pid $pid); checking readiness"
    if wait_ready "$pid" "$START_TIMEOUT"; then
      record_version
      exit 0
    fi
    print_log_tail
    err "broker (pid $pid) is running but not ready; try: npm run kafka:stop && npm run kafka:start"
    exit 1
  fi
  clean_stale_pid_file

  if port_open "$BROKER_PORT"; then
    # Something else answers on the port (another checkout's broker?). Accept it only if it is healthy.
    rm -f "$VERSION_FILE" # not ours: its version is unknown here
    log "a broker not started from this checkout answers on $HOST:$BROKER_PORT; checking readiness"
    if readiness_check 30; then
      exit 0
    fi
    err "port $HOST:$BROKER_PORT is taken by something that is not a healthy Kafka broker"
    exit 1
  fi
  if port_open "$CONTROLLER_PORT"; then
    err "port $HOST:$CONTROLLER_PORT (controller) is already in use; cannot start the broker"
    exit 1
  fi

  command -v java >/dev/null || { err "java is required"; exit 1; }
  # Layout before versioned directories (one libs/ and data/ for 3.9): nothing runs from them any more.
  if [[ -d "$KAFKA_DIR/libs" || -d "$KAFKA_DIR/data" ]]; then
    log "removing the unversioned .kafka/libs and .kafka/data of an older scripts/kafka.sh"
    rm -rf "$KAFKA_DIR/libs" "$KAFKA_DIR/data"
  fi
  local t0
  t0=$(date +%s)
  fetch_jars
  write_properties
  format_storage
  log "starting broker on $HOST:$BROKER_PORT (logs: .kafka/logs)"
  mark_logs
  LAUNCHED_PID=""
  launch
  if wait_ready "$LAUNCHED_PID" "$START_TIMEOUT"; then
    record_version
    log "broker (Kafka $VERSION) ready (pid $LAUNCHED_PID) in $(($(date +%s) - t0))s"
    exit 0
  fi
  err "broker did not become ready (timeout ${START_TIMEOUT}s, KAFKA_START_TIMEOUT)"
  print_log_tail
  if kill -0 "$LAUNCHED_PID" 2>/dev/null; then
    err "stopping the half-started broker (pid $LAUNCHED_PID)"
    stop_pid "$LAUNCHED_PID" || true
  fi
  rm -f "$PID_FILE"
  exit 1
}

# stop_pid PID -> SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL.
stop_pid() {
  local pid="$1" deadline
  kill -TERM "$pid" 2>/dev/null || return 0
  deadline=$(($(date +%s) + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if (($(date +%s) >= deadline)); then
      err "broker (pid $pid) still running ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      local i
      for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      break
    fi
    sleep 0.2
  done
  ! kill -0 "$pid" 2>/dev/null
}

cmd_stop() {
  if [[ -d "$KAFKA_DIR" ]]; then
    exec 9>"$LOCK_FILE"
    flock -w 300 9 || { err "another kafka.sh is holding $LOCK_FILE"; exit 1; }
  fi
  local pid
  if ! pid="$(find_pid)"; then
    clean_stale_pid_file
    log "not running"
    exit 0
  fi
  log "stopping broker (pid $pid) ..."
  local t0
  t0=$(date +%s)
  if stop_pid "$pid"; then
    rm -f "$PID_FILE" "$VERSION_FILE"
    log "stopped in $(($(date +%s) - t0))s"
    exit 0
  fi
  err "could not stop pid $pid"
  exit 1
}

cmd_status() {
  local pid
  if pid="$(find_pid)"; then
    if port_open "$BROKER_PORT"; then
      echo "running (pid $pid, $HOST:$BROKER_PORT answers; $(cat "$VERSION_FILE" 2>/dev/null || echo "version unknown"))"
    else
      echo "running (pid $pid, $HOST:$BROKER_PORT not answering yet)"
    fi
    exit 0
  fi
  if port_open "$BROKER_PORT"; then
    echo "not running from this checkout (but something answers on $HOST:$BROKER_PORT)"
  else
    echo "not running"
  fi
  exit 3
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  # The jars only (idempotent): tests that start brokers of their own (test/support/secured-kafka.ts) use them even
  # when the broker on 9092 was started from another checkout.
  fetch) mkdir -p "$LOGS_DIR" && fetch_jars ;;
  *)
    echo "usage: $0 start|stop|status|fetch" >&2
    exit 2
    ;;
esac
