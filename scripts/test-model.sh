#!/usr/bin/env bash
# The model-based reconcile test alone. --runs N, --seed S, --path P and --replay-path R (a replay) become
# MODEL_RUNS, MODEL_SEED, MODEL_PATH and MODEL_REPLAY_PATH; --max-commands N and --budget-ms N bound each
# run's length and the whole search.
set -euo pipefail
cd "$(dirname "$0")/.."
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) export MODEL_RUNS="$2"; shift 2 ;;
    --seed) export MODEL_SEED="$2"; shift 2 ;;
    --path) export MODEL_PATH="$2"; shift 2 ;;
    --replay-path) export MODEL_REPLAY_PATH="$2"; shift 2 ;;
    --max-commands) export MODEL_MAX_COMMANDS="$2"; shift 2 ;;
    --budget-ms) export MODEL_TIME_BUDGET_MS="$2"; shift 2 ;;
    *) echo "unknown argument: $1 (expected --runs N, --seed S, --path P, --replay-path R, --max-commands N, --budget-ms N)" >&2; exit 2 ;;
  esac
done
export NODE_OPTIONS=--experimental-vm-modules
exec jest --selectProjects integration --runInBand test/model
