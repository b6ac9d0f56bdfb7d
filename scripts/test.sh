#!/usr/bin/env bash
# Runs Capacitor's whole test suite, installing first what the tests need and the machine lacks:
# PostgreSQL 15, Redis 7 and NATS 2.9 (JetStream, for the outbox relay's sink) from Debian's packages (the
# store, cache and sink tests start their own servers on loopback ports in temp dirs; nothing here starts a
# system service); `s3s-fs` (crates.io), the S3-compatible server of the claim check tests; `protoc` with its
# well-known types (Debian's protobuf-compiler and libprotobuf-dev) and `buf` (npm's @bufbuild/buf, which ships
# the binary) for the protoc-plugin tests (`codegen/tests/plugin.rs`, which fail under CI=true when either is missing); npm
# also fetches googleapis' protos for `tests/googleapis` (`scripts/fetch-googleapis.sh`); and PyPI's
# protovalidate (pinned) in a venv under target/ for the differential test (`tests/tests/differential.rs`, which
# fails under CI=true without it); and npm's @bufbuild/cel-spec (pinned) under target/cel-spec for the cel-spec
# conformance cases (`tests/cel-spec`, which fail under CI=true without it).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
missing=()
# CAPACITOR_PG_BIN: PostgreSQL's binaries elsewhere (testkit reads it too); Debian's package otherwise.
[ -x "${CAPACITOR_PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ] || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/descriptor.proto ] || missing+=(libprotobuf-dev)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3 python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The S3-compatible server of the claim check tests (`testkit/src/s3.rs`), built from crates.io once (~1.5 min).
if ! command -v s3s-fs >/dev/null 2>&1; then
  echo "test.sh: installing s3s-fs (crates.io)" >&2
  cargo install --locked --quiet s3s-fs --version 0.14.1 --features binary
fi
if ! command -v buf >/dev/null 2>&1; then
  echo "test.sh: installing buf (npm @bufbuild/buf)" >&2
  $sudo npm install -g --no-fund --no-audit --loglevel=error @bufbuild/buf@1.75.0 >/dev/null
fi

# The medium real corpus (`tests/googleapis`: googleapis' google/api, rpc, type, longrunning, generated and
# compiled) is fetched from npm once, outside the repository.
CAPACITOR_GOOGLEAPIS=$(scripts/fetch-googleapis.sh)
export CAPACITOR_GOOGLEAPIS

venv=target/protovalidate-venv
if ! "$venv/bin/python" -c 'import importlib.metadata as m; assert m.version("protovalidate") == "2.1.0"' 2>/dev/null; then
  echo "test.sh: installing protovalidate==2.1.0 (PyPI) into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check protovalidate==2.1.0
fi

# cel-spec's conformance data for `tests/cel-spec` (npm's @bufbuild/cel-spec, pinned), under target/cel-spec once.
scripts/fetch-cel-spec.sh >/dev/null

cargo test --workspace "$@"
# Show protovalidate's conformance total (`conformance: N passed, M failed`): libtest hides a passing test's
# output. Already built by the line above, so this only reruns the comparison.
cargo test -q -p capacitor-conformance --test conformance -- --nocapture
# And cel-spec's (`cel-spec 0.6.1: N passed, M failed, K unsupported`; per section with --nocapture).
cargo test -q -p capacitor-cel-spec --test cel_spec -- --nocapture 2>&1 | grep '^cel-spec '
