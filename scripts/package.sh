#!/usr/bin/env bash
# Proves the published crates build from their `cargo package` tarballs: each is packaged, unpacked and built
# against the others' tarballs (cargo overlays the crates packaged together as a local registry), so a file a
# crate embeds from outside its directory, or a dependency without a version, fails here and not on crates.io.
# Test crates, examples and the testkit are `publish = false` and are not packaged.
set -euo pipefail
cd "$(dirname "$0")/.."

# `--allow-dirty`: the point is the tarball's contents, not the state of the checkout running the check.
cargo package --allow-dirty --locked \
  -p capacitor-schema -p capacitor-macros -p capacitor -p capacitor-codegen "$@"
