#!/usr/bin/env bash
# What both README commands need first: dependencies, Postgres answering, the Kafka broker, a build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/ensure-postgres.sh
bash scripts/ensure-chromium.sh
bash scripts/kafka.sh fetch
npm run --silent kafka:start
npm run --silent build
