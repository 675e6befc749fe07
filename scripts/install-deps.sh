#!/usr/bin/env bash
# Installs the Debian 12 packages replywatch needs.
#
#   scripts/install-deps.sh            build, test and benchmark dependencies (default)
#   scripts/install-deps.sh --runtime  only the shared libraries the replywatch binary
#                                      loads, plus tzdata, CA certificates and curl
#
# Run as root (or with sudo available). Idempotent: when every package is already
# installed it returns at once without touching apt.
set -euo pipefail

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
}

mode=build
for arg in "$@"; do
  case "$arg" in
    --runtime) mode=runtime ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-deps.sh: unknown option: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

# Libraries the binary links against at run time, and what the container health check uses.
runtime_packages=(
  ca-certificates tzdata curl
  libcurl4 libsqlite3-0 zlib1g libyaml-cpp0.7 libspdlog1.10 libfmt9 libre2-9 libsystemd0 libssl3
  libprometheus-cpp-core1.0 libdate-tz3 libjemalloc2
)

# Toolchain, headers, test and benchmark frameworks, and the Prometheus tools the
# integration tests drive (prometheus, promtool, alertmanager, amtool).
build_packages=(
  cmake ninja-build g++ pkg-config git ca-certificates python3 curl tzdata
  libboost-dev libcurl4-openssl-dev nlohmann-json3-dev prometheus-cpp-dev
  libsqlite3-dev sqlite3 zlib1g-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  libhowardhinnant-date-dev libssl-dev libre2-dev libsystemd-dev libcrypt-dev libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  prometheus prometheus-alertmanager
  systemd  # systemd-analyze: the unit file's lint and sandbox exposure check
  openssl  # tests: certificates for the TLS tests
  bubblewrap  # tests/reliability/container_test.py: read-only root, unprivileged user
  time bc  # bench/import_bench.sh: peak memory and arithmetic
  chromium chromium-driver  # tests/integration/report_test.py renders the HTML report headless
)

if [[ $mode == runtime ]]; then
  packages=("${runtime_packages[@]}")
else
  packages=("${build_packages[@]}")
  # The Grafana dashboards' type check (dashboards/check) runs on Node.js with npm; a
  # Node.js installed another way (with its own npm) is kept.
  if ! command -v npm >/dev/null 2>&1; then
    packages+=(nodejs npm)
  fi
fi

# Lists the packages that are not fully installed.
missing_packages() {
  local p status
  for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    if [[ $status != installed ]]; then
      printf '%s\n' "$p"
    fi
  done
}

mapfile -t missing < <(missing_packages)
if ((${#missing[@]} == 0)); then
  echo "install-deps.sh: all ${#packages[@]} $mode packages are installed"
  exit 0
fi

sudo_cmd=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install-deps.sh: missing packages (${missing[*]}) and not running as root" >&2
    exit 1
  fi
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update
"${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${packages[@]}"
