#!/usr/bin/env bash
# Installs node_modules from package-lock.json when missing or out of date (fresh machine, new lock).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.lock-stamp
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -x node_modules/.bin/node || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "[deps] npm ci"
  # npm runs on the machine's Node (20) while node_modules brings the project's Node 24: its EBADENGINE warnings
  # (one per package wanting Node >= 22/24) are expected there, so show errors only.
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
