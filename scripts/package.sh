#!/usr/bin/env bash
# Proves the published crates build from their `cargo package` tarballs: each is packaged, unpacked and built
# against the others' tarballs (cargo overlays the crates packaged together as a local registry), so a file a
# crate embeds from outside its directory, or a dependency without a version, fails here and not on crates.io.
# Test crates, examples and the testkit are `publish = false` and are not packaged.
set -euo pipefail
cd "$(dirname "$0")/.."

# The packaged crates keep their version while their code changes, and cargo takes a registry crate's build as
# fresh by its version: a verification would reuse what an earlier run of this script built from older tarballs
# (on a machine that ran it before; a clean checkout has none). Forget our crates' builds first; the
# dependencies' stay, so this costs only our own crates.
cargo clean -q -p capacitor-schema -p capacitor-macros -p capacitor -p capacitor-codegen
# The same goes for the sources: cargo unpacks an overlaid tarball into the registry's source folder once per
# name and version and reuses that folder later, so a second run would build the first run's sources. Remove
# our crates' unpacked copies (no other crate of these names is a dependency).
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
for crate in capacitor-schema capacitor-macros capacitor capacitor-codegen; do
  rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$crate-$version"
done

# `--allow-dirty`: the point is the tarball's contents, not the state of the checkout running the check.
cargo package --allow-dirty --locked \
  -p capacitor-schema -p capacitor-macros -p capacitor -p capacitor-codegen "$@"
