#!/usr/bin/env bash
# Every check of the project, from a fresh machine: installs what it needs
# (wasm32 target, wasm-bindgen CLI at the pinned version, npm packages,
# Debian's chromium and postgresql), then runs formatting, lints, the core without its
# simulators, docs, all Rust tests, a short run of every fuzz target (or its
# property-based stand-in without nightly), the wasm build of core, and the
# Node, packaging and Chromium tests.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: wasm32 target"
rustup target add wasm32-unknown-unknown

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "core builds without the simulators (and so does reportflow-host): build, clippy, docs"
cargo build -p reportflow
cargo clippy -p reportflow -- -D warnings
cargo clippy -p reportflow-host --no-default-features -- -D warnings
RUSTDOCFLAGS=-Dwarnings cargo doc -p reportflow --no-deps
RUSTDOCFLAGS=-Dwarnings cargo doc -p reportflow-host --no-default-features --no-deps

step "core builds with each provider alone and without charsets (a one-marketplace wasm module)"
for provider in amazon-ads lingxing yandex-market amazon-mws amazon-pay amazon-sp-api amazon-ads-v3; do
  cargo clippy -p reportflow --no-default-features --features "$provider" -- -D warnings
done
# The module without charsets decodes a legacy charset with the decoder the
# host lends, and refuses it without one (the default build runs the same
# test and decodes with its own, in `cargo test` below).
cargo test -p reportflow-wasm --no-default-features --features amazon-ads --test charsets
# What lends JavaScript's decoders compiles for wasm32 only.
cargo clippy -p reportflow-wasm --target wasm32-unknown-unknown --no-default-features --features all-providers -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps

# The fleet's PostgreSQL tests (the store contract, three worker processes
# with one killed) need a server: installed from Debian's packages when
# missing, started, and named by REPORTFLOW_TEST_POSTGRES for `cargo test`.
step "PostgreSQL for the fleet tests"
# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh

# The core's tests run with `sim`: core/Cargo.toml's self dev-dependency turns
# it on, and core/src/lib.rs refuses to build tests without it.
step "cargo test (PROPTEST_CASES=${PROPTEST_CASES:=256})"
PROPTEST_CASES=$PROPTEST_CASES cargo test --workspace

# Fuzzing (fuzz/, outside the workspace): each cargo-fuzz target for a short,
# bounded time when a nightly toolchain exists; otherwise the property-based
# stand-ins of the same inputs, with more cases.
FUZZ_SECONDS=${FUZZ_SECONDS:=25}
if rustup toolchain list | grep -q '^nightly'; then
  step "fuzz: every target for ${FUZZ_SECONDS}s (cargo +nightly fuzz)"
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
  for target in restore replies integrity records; do
    (cd fuzz && cargo +nightly fuzz run "$target" -- \
      -max_total_time="$FUZZ_SECONDS" -malloc_limit_mb=512 -print_final_stats=1)
  done
else
  step "fuzz stand-in (no nightly): property tests of restore, replies, integrity, records"
  PROPTEST_CASES=4096 cargo test -p reportflow --test prop_restore --test prop_integrity \
    --test prop_records --test prop_creates --test prop_machines
fi

# The core as an application embeds it: no features, so no simulators.
step "core builds for wasm32-unknown-unknown and depends on no I/O crate"
cargo build -p reportflow --target wasm32-unknown-unknown --release
io_crates=$(cargo tree -p reportflow --target wasm32-unknown-unknown -e normal --prefix none \
  | grep -E '^(tokio|mio|socket2|reqwest|ureq|hyper|getrandom|rand|tiny_http|async-std) ' || true)
if [ -n "$io_crates" ]; then
  echo "core depends on I/O crates:"; echo "$io_crates"; exit 1
fi

if [ -x bindings/scripts/test.sh ]; then
  step "wasm bindings, npm package, Node, packaging and Chromium tests"
  bindings/scripts/test.sh
fi

step "all checks passed"
