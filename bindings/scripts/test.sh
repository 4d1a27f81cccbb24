#!/usr/bin/env bash
# Builds and tests the npm package `reportflow` on a fresh machine:
#   1. toolchain: wasm32 target, wasm-bindgen CLI at the crate's pin, npm ci,
#      Debian chromium (playwright never downloads a browser);
#   2. builds the Rust CLI (`reportflow sim` / `fetch`: the servers and the
#      reference host the tests compare against) and the package
#      (scripts/build.mjs: cargo → wasm-bindgen → wasm-opt → import check → tsc);
#   3. runs `node --test` over the compiled tests: facade, driver, snapshots,
#      errors, abort, every provider end to end against the loopback
#      simulator (with faults), the examples, the packaging test (npm pack →
#      install → import) and the Chromium test.
# Set REPORTFLOW_SKIP_BROWSER=1 to leave out the Chromium test.
set -euo pipefail

bindings="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$bindings/.." && pwd)"
cd "$bindings"
export PATH="$HOME/.cargo/bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*" >&2; }

# The wasm-bindgen pin, e.g. `wasm-bindgen = "=0.2.130"` in the workspace.
pin="$(sed -n 's/^wasm-bindgen *= *"=\([0-9.]*\)".*/\1/p' "$root/Cargo.toml" "$root/wasm/Cargo.toml" | head -n1)"
if [[ -z "$pin" ]]; then
  echo "test.sh: no exact wasm-bindgen pin (wasm-bindgen = \"=X.Y.Z\") in Cargo.toml" >&2
  exit 1
fi

step "toolchain: wasm32 target, wasm-bindgen $pin, npm ci, chromium"
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $pin" ]]; then
  cargo install wasm-bindgen-cli --version "$pin"
fi
npm ci --no-audit --no-fund
if [[ "${REPORTFLOW_SKIP_BROWSER:-}" != 1 ]] && ! command -v chromium >/dev/null; then
  sudo=""
  if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium
fi

step "build: reportflow CLI and the npm package"
(cd "$root" && cargo build -p reportflow-cli)
node scripts/build.mjs --tests

step "node --test"
tests=()
for file in build/test/*.test.js; do
  if [[ "${REPORTFLOW_SKIP_BROWSER:-}" == 1 && "$file" == */browser.test.js ]]; then continue; fi
  tests+=("$file")
done
node --test "${tests[@]}"
