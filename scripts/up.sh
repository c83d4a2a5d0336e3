#!/usr/bin/env bash
# Brings the whole product up on this machine: dependencies, Postgres, Kafka, the Feishu emulator, the badge
# service (all roles), then sample traffic so you can watch badges move. Ctrl-C stops the emulator and service
# (Kafka keeps running; `npm run kafka:stop` stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare.sh
mkdir -p .run

export EMULATOR_PORT="${EMULATOR_PORT:-18080}"
export EMULATOR_APP_ID="${EMULATOR_APP_ID:-cli_local_demo}"
export EMULATOR_APP_SECRET="${EMULATOR_APP_SECRET:-$(node -e 'console.log(require("crypto").randomBytes(16).toString("hex"))')}"
export FEISHU_BASE_URL="${FEISHU_BASE_URL:-http://127.0.0.1:$EMULATOR_PORT}"
export FEISHU_APP_ID="$EMULATOR_APP_ID"
export FEISHU_APP_SECRET="$EMULATOR_APP_SECRET"
export AUDIT_API_TOKENS="${AUDIT_API_TOKENS:-local-$(node -e 'console.log(require("crypto").randomBytes(12).toString("hex"))')}"
export HTTP_PORT="${HTTP_PORT:-3000}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/badges}"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

npm run --silent start:emulator > .run/emulator.log 2>&1 & pids+=($!)
npm run --silent start:service > .run/service.log 2>&1 & pids+=($!)

for _ in $(seq 1 90); do
  curl -fsS "http://127.0.0.1:$HTTP_PORT/health/ready" >/dev/null 2>&1 && break
  sleep 1
done
curl -fsS "http://127.0.0.1:$HTTP_PORT/health/ready" >/dev/null || { echo "service did not become ready; see .run/service.log" >&2; tail -20 .run/service.log >&2; exit 1; }

cat <<INFO
console         http://127.0.0.1:$HTTP_PORT/console   (paste the audit token below as "Audit token"; try user ou_demo_user_1)
badge service   http://127.0.0.1:$HTTP_PORT   (OpenAPI: /docs, metrics: /metrics; logs: .run/service.log)
audit API token ${AUDIT_API_TOKENS%%,*}
                curl -H "Authorization: Bearer ${AUDIT_API_TOKENS%%,*}" http://127.0.0.1:$HTTP_PORT/v1/stats
emulator        $FEISHU_BASE_URL/_emulator/badges   (logs: .run/emulator.log)
INFO
# kafkajs 2.2.4 on Node 24 warns TimeoutNegativeWarning (tulios/kafkajs#1751; the service patches it, these clients do not): that one warning only.
node --disable-warning=TimeoutNegativeWarning scripts/sample-traffic.mjs
echo "sample traffic done; the stack keeps running until Ctrl-C"
wait
