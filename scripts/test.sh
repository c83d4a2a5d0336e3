#!/usr/bin/env bash
# The full test suite, exactly as CI runs it: dependencies, Postgres, Kafka, build, typecheck, unit and
# integration tests on the real broker and database. Ends with one "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare.sh
npm run --silent typecheck
export NODE_OPTIONS=--experimental-vm-modules
mkdir -p .test-results
status=0
jest --selectProjects unit --json --outputFile=.test-results/unit.json || status=1
jest --selectProjects integration --runInBand --json --outputFile=.test-results/integration.json || status=1
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0;
  for (const f of ["unit", "integration"]) {
    try { const r = JSON.parse(fs.readFileSync(`.test-results/${f}.json`, "utf8")); passed += r.numPassedTests; failed += r.numFailedTests + r.numRuntimeErrorTestSuites; }
    catch { failed += 1; }
  }
  console.log(`${passed} passed, ${failed} failed`);
'
exit $status
