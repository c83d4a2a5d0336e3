#!/usr/bin/env bash
# Installs node_modules from package-lock.json when missing or out of date (fresh machine, new lock).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.lock-stamp
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -x node_modules/.bin/node || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "[deps] npm ci"
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
