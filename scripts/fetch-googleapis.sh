#!/usr/bin/env bash
# Fetches googleapis' protos as npm publishes them (`google-proto-files@6.0.1`, Apache-2.0) into DIR (default
# $CAPACITOR_CORPUS, else $TMPDIR/capacitor-corpus) once, and prints the include root: DIR/package, holding
# `google/` and `grafeas/`. The package's own copy of the well-known types (`google/protobuf/`) is removed:
# protox has them built in and cannot parse newer descriptor.proto copies.
set -euo pipefail
version=6.0.1
dir=${1:-${CAPACITOR_CORPUS:-${TMPDIR:-/tmp}/capacitor-corpus}}
root="$dir/google-proto-files-$version/package"
if [ ! -f "$root/.complete" ]; then
  command -v npm >/dev/null 2>&1 || { echo "fetch-googleapis.sh: npm is needed to fetch google-proto-files" >&2; exit 1; }
  mkdir -p "$dir/google-proto-files-$version"
  cd "$dir/google-proto-files-$version"
  rm -rf package ./*.tgz
  npm pack --silent --loglevel=error "google-proto-files@$version" >/dev/null
  tar xzf "google-proto-files-$version.tgz"
  rm -rf package/google/protobuf
  touch package/.complete
fi
echo "$root"
