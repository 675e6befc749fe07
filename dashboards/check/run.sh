#!/usr/bin/env bash
# Type-checks the Grafana dashboards in dashboards/grafana/ against Grafana's own types
# (check.mjs), with the packages pinned in package-lock.json.
#
#   dashboards/check/run.sh [WORKDIR]    WORKDIR holds node_modules (default: a new
#                                        temporary directory, removed afterwards)
#
# The packages are installed with `npm ci` from the lockfile, from npm's cache when it
# has them, and only again when the lockfile changes. Exits non-zero when a dashboard
# fails the check or the packages cannot be installed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $# -ge 1 ]]; then
  work=$1
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
cd "$work"
if ! cmp -s "$here/package-lock.json" node_modules/.replywatch-lock 2>/dev/null; then
  cp "$here/package.json" "$here/package-lock.json" .
  npm ci --prefer-offline --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.replywatch-lock
fi
node "$here/check.mjs" "$here/../grafana"
