#!/usr/bin/env bash
# Runs Capacitor's whole test suite, installing first what the tests need and the machine lacks:
# PostgreSQL 15 and Redis 7 from Debian's packages (the store and cache tests start their own servers on
# loopback ports in temp dirs; nothing here starts a system service).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo test --workspace "$@"
# Show protovalidate's conformance total (`conformance: N passed, M failed`): libtest hides a passing test's
# output. Already built by the line above, so this only reruns the comparison.
cargo test -q -p capacitor-conformance --test conformance -- --nocapture
