#!/usr/bin/env bash
# The full test suite, exactly as CI runs it: dependencies, Postgres, Kafka, build, typecheck, unit and
# integration tests on the real broker and database, all on the default Kafka (4.x); then the suites that really
# produce to and consume from Kafka once more on Kafka 3.9, the line still widely deployed. Ends with one
# "N passed, N failed" line over both passes, and leaves the default broker running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare.sh
npm run --silent typecheck
# kafkajs 2.2.4 on Node 24 warns TimeoutNegativeWarning (tulios/kafkajs#1751; the service patches it, these clients do not): that one warning only.
export NODE_OPTIONS='--experimental-vm-modules --disable-warning=TimeoutNegativeWarning'
mkdir -p .test-results
rm -f .test-results/*.json
# The broker kafka.sh started: KAFKA_VERSION (default: scripts/kafka/pom.xml's), on KAFKA_PORT (default 9092).
main_version="${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' scripts/kafka/pom.xml)}"
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:${KAFKA_PORT:-9092}}"
status=0
jest --selectProjects unit --json --outputFile=.test-results/unit.json || status=1
KAFKA_EXPECT_VERSION="$main_version" \
  jest --selectProjects integration --runInBand --json --outputFile=.test-results/integration.json || status=1

# The Kafka 3.9 pass (2 to 2.5 min here, broker switches included). Only the suites whose point is the conversation
# with the broker: the client against the broker (test/kafka: kafkajs features, rebalance, admin, and the secured
# SASL_SSL broker on 3.9's jars), ingest (test/ingest) and the whole pipeline (test/e2e). The rest either never open
# a Kafka connection (audit, reconcile, store, emulator, compose, model) or use it as plumbing already proven here
# (observability's metrics and log checks). test/reliability (its CI variant runs in the first pass) restarts
# the broker and Postgres itself, and stays out of this one.
KAFKA_39=3.9.2
KAFKA_SUITES=(test/kafka test/ingest test/e2e)
t0=$(date +%s)
if KAFKA_VERSION="$KAFKA_39" bash scripts/kafka.sh start; then
  KAFKA_VERSION="$KAFKA_39" KAFKA_EXPECT_VERSION="$KAFKA_39" \
    jest --selectProjects integration --runInBand --json --outputFile=.test-results/kafka-3.9.json "${KAFKA_SUITES[@]}" || status=1
else
  status=1
fi
KAFKA_VERSION="$main_version" bash scripts/kafka.sh start || status=1 # back to the main version for what runs next
echo "[test] Kafka $KAFKA_39 pass (${KAFKA_SUITES[*]}) took $(($(date +%s) - t0))s, broker switches included"

node -e '
  const fs = require("fs");
  let passed = 0, failed = 0;
  for (const f of ["unit", "integration", "kafka-3.9"]) {
    try { const r = JSON.parse(fs.readFileSync(`.test-results/${f}.json`, "utf8")); passed += r.numPassedTests; failed += r.numFailedTests + r.numRuntimeErrorTestSuites; }
    catch { failed += 1; }
  }
  console.log(`${passed} passed, ${failed} failed`);
'
exit $status
