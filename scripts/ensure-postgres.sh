#!/usr/bin/env bash
# Makes sure the machine's PostgreSQL answers on 127.0.0.1:5432 (starting the cluster if it is installed but down).
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 -U postgres; }
if ready; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1; then
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  echo "[postgres] starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
fi
for _ in $(seq 1 60); do ready && exit 0; sleep 1; done
echo "[postgres] not answering on 127.0.0.1:5432 (user postgres); start it and retry" >&2
exit 1
