#!/usr/bin/env bash
# Fetches cel-spec's conformance data for `tests/cel-spec` as npm publishes it (`@bufbuild/cel-spec`, pinned,
# Apache-2.0) into target/cel-spec/<version>/ once: the package's `conformance.js` module (cel-spec's
# tests/simple/testdata suites as proto JSON inside a JS object) written out as conformance.json by node. Prints
# the JSON's path. The test crate skips without it, and fails under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.6.1
dir=target/cel-spec/$version
if [ ! -f "$dir/conformance.json" ]; then
  command -v npm >/dev/null 2>&1 || { echo "fetch-cel-spec.sh: npm (and node) are needed to fetch @bufbuild/cel-spec" >&2; exit 1; }
  echo "fetch-cel-spec.sh: fetching @bufbuild/cel-spec@$version (npm) into $dir" >&2
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && npm pack --silent --loglevel=error "@bufbuild/cel-spec@$version" >/dev/null && tar xzf "bufbuild-cel-spec-$version.tgz")
  # JSON has no -0, NaN or infinities: write them as the strings proto JSON uses for doubles.
  node --input-type=module -e '
    const [, src, dst] = process.argv;
    const { tests } = await import(src);
    const fix = (k, v) => typeof v !== "number" ? v : Object.is(v, -0) ? "-0" : Number.isFinite(v) ? v : String(v);
    (await import("node:fs")).writeFileSync(dst, JSON.stringify(tests, fix));
  ' "$PWD/$dir/package/dist/esm/testdata/conformance.js" "$dir/conformance.json.tmp"
  mv "$dir/conformance.json.tmp" "$dir/conformance.json"
fi
echo "$PWD/$dir/conformance.json"
