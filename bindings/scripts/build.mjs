#!/usr/bin/env node
// Builds the npm package: the production and simulator wasm modules, the
// one-provider modules (`reportflow/amazon-ads`, …) and the charset module
// Node entries lend their jobs, each cargo →
// wasm-bindgen (--target web) → wasm-opt → import check; then tsc. No
// wasm-pack. Prints every module's size (raw and gzip) and fails when the
// production module or a one-provider module is over 300 KB.
//
//   node scripts/build.mjs            everything
//   node scripts/build.mjs --no-opt   skip wasm-opt
//   node scripts/build.mjs --tests    also compile test/ to build/
//   node scripts/build.mjs --providers amazon-ads,amazon-sp-api
//                                     a production module with only those
//                                     providers (a job for another one is
//                                     refused as invalid_config)
//
// Fails when the wasm-bindgen CLI is not the exact version the crate pins,
// and when the .wasm imports anything clock-, random- or network-shaped.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..");
const root = join(pkg, "..");
const argv = process.argv.slice(2);
const args = new Set(argv);
/** The providers with an entry of their own (`reportflow/amazon-ads`, …). */
const ONE_PROVIDER_ENTRIES = ["amazon-ads", "amazon-ads-v3", "yandex-market", "amazon-mws", "amazon-sp-api", "lingxing", "amazon-pay"];
const providersAt = argv.indexOf("--providers");
const chosen = providersAt >= 0 ? (argv[providersAt + 1] ?? "").split(",").filter(Boolean) : null;

function run(cmd, argv, options = {}) {
  console.error(`$ ${cmd} ${argv.join(" ")}`);
  // `cargo metadata` of the whole workspace is megabytes of JSON (the async
  // host's tokio and reqwest alone pass Node's 1 MiB default buffer).
  return execFileSync(cmd, argv, {
    stdio: options.capture ? ["ignore", "pipe", "inherit"] : "inherit",
    cwd: options.cwd ?? root,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
}

function fail(message) {
  console.error(`build.mjs: ${message}`);
  process.exit(1);
}

// 1. The wasm-bindgen crate (as resolved) and the CLI must be the same version.
const metadata = JSON.parse(run("cargo", ["metadata", "--format-version", "1"], { capture: true }));
const crate = metadata.packages.find((p) => p.name === "reportflow-wasm");
if (!crate) fail("crate reportflow-wasm is not a workspace member");
// The providers of the production module: every one (the crate's feature
// `all-providers`, the one list) unless `--providers` names some.
const PROVIDERS = crate.features["all-providers"] ?? [];
if (chosen && (chosen.length === 0 || chosen.some((p) => !PROVIDERS.includes(p)))) {
  fail(`--providers takes a comma-separated list of ${PROVIDERS.join(", ")}`);
}
const requirement = crate.dependencies.find((d) => d.name === "wasm-bindgen")?.req ?? "";
if (!/^=\s*\d+\.\d+\.\d+$/.test(requirement)) fail(`wasm/Cargo.toml must pin wasm-bindgen exactly (=X.Y.Z), found "${requirement}"`);
const pinned = requirement.replace(/^=\s*/, "");
const resolved = metadata.packages.filter((p) => p.name === "wasm-bindgen").map((p) => p.version);
if (!resolved.includes(pinned)) fail(`Cargo resolved wasm-bindgen ${resolved.join(", ")} but the pin is ${pinned}`);
let cli = "";
try {
  cli = execFileSync("wasm-bindgen", ["--version"], { encoding: "utf8" }).trim();
} catch {
  fail(`wasm-bindgen CLI not found; install it with: cargo install wasm-bindgen-cli --version ${pinned}`);
}
const cliVersion = cli.split(/\s+/)[1];
if (cliVersion !== pinned) {
  fail(`wasm-bindgen CLI is ${cliVersion} but the crate pins ${pinned}; run: cargo install wasm-bindgen-cli --version ${pinned}`);
}
console.error(`wasm-bindgen ${pinned}: crate pin and CLI agree`);

// 2.–4. The two wasm modules, from the one crate (wasm/Cargo.toml, feature
//    `sim`): the production module behind `reportflow` (jobs, integrity
//    helpers, records; no simulators) and the simulator module behind
//    `reportflow/sim` (examples and tests). Each: cargo (profile
//    wasm-release: opt-level z, LTO, one codegen unit, panic=abort) →
//    wasm-bindgen → wasm-opt -Oz → import check.
const MODULES = [
  {
    name: "reportflow_wasm",
    entry: "reportflow",
    // No charset decoders: its jobs borrow JavaScript's (wasm/src/charsets.rs).
    features: ["--no-default-features", "--features", (chosen ?? ["all-providers"]).join(",")],
  },
  { name: "reportflow_sim", entry: "reportflow/sim", features: ["--features", "sim"] },
  // encoding_rs's decoders alone, which the Node entries lend to their jobs
  // (Node's TextDecoder is not the WHATWG Shift_JIS; browsers lend theirs).
  { name: "reportflow_charsets", entry: "Node entries' charset decoders", crate: "reportflow-wasm-charsets", features: [] },
  // One provider each: the entries `reportflow/amazon-ads`, … The crate's JavaScript
  // surface does not depend on its features, so wasm-bindgen writes the
  // same glue for them as for the production module: they ship only their
  // .wasm and load it into that glue (checked below, byte for byte).
  // Built with a custom production module too: the package's entries
  // need their files whatever `--providers` chose.
  ...ONE_PROVIDER_ENTRIES.map((provider) => ({
    name: `reportflow_${provider.replaceAll("-", "_")}`,
    entry: `reportflow/${provider}`,
    features: ["--no-default-features", "--features", provider],
    glue: "reportflow_wasm",
    oneProvider: true,
  })),
];
/**
 * The production module's size limit (gzip -9 bytes), issue 16's target:
 * the build fails above it. The module was 680,164 bytes when the issue was
 * filed (simulators included) and 621,383 once all seven providers were in;
 * 2026-12-03 it is 298,774, since the core reads JSON through one
 * `serde_json::Value` with `json_fields`' macros instead of serde's derived
 * visitors (400,759 before) and writes the wasm job's snapshot without
 * copying the job (README "Size of the npm package" has the steps).
 */
const PRODUCTION_GZIP_TARGET = 300 * 1000;
const outDir = join(pkg, "wasm");
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const sizes = [];
for (const module of MODULES) {
  // Both modules are written to the same file name, and cargo judges each
  // feature set fresh by that file's age: without removing it, a rebuild
  // with no source change took the other module's file (the simulator
  // module shipped as the production one).
  const crateName = module.crate ?? "reportflow-wasm";
  const artifact = `${crateName.replaceAll("-", "_")}.wasm`;
  const input = join(metadata.target_directory, "wasm32-unknown-unknown", "wasm-release", artifact);
  for (const file of [input, join(dirname(input), "deps", artifact)]) rmSync(file, { force: true });
  run("cargo", ["build", "-p", crateName, "--target", "wasm32-unknown-unknown", "--profile", "wasm-release", ...module.features]);
  const glue = module.glue ?? module.name;
  const bindgenDir = module.glue ? join(outDir, `.${module.name}`) : outDir;
  run("wasm-bindgen", ["--target", "web", "--out-dir", bindgenDir, "--out-name", glue, input]);
  const wasmFile = join(outDir, `${module.name}_bg.wasm`);
  if (module.glue) {
    // The entry loads this .wasm into the production module's glue: it
    // must be the same glue, or the facade would call what is not there.
    const own = readFileSync(join(bindgenDir, `${glue}.js`), "utf8");
    if (own !== readFileSync(join(outDir, `${glue}.js`), "utf8")) {
      fail(`${module.name}: wasm-bindgen wrote other glue than the production module's; its entry cannot share the facade`);
    }
    renameSync(join(bindgenDir, `${glue}_bg.wasm`), wasmFile);
    rmSync(bindgenDir, { recursive: true, force: true });
  }
  // The generated declarations use `[Symbol.dispose]()` (the disposable lib,
  // TypeScript 5.2+) and DOM names (`WebAssembly`, `BufferSource`, `Response`).
  // Say so, so that a consumer on lib "es2022" with only @types/node, or with
  // neither, type-checks without skipLibCheck.
  const dts = join(outDir, `${module.name}.d.ts`);
  if (!module.glue) {
    writeFileSync(dts, `/// <reference lib="esnext.disposable" />\n/// <reference lib="dom" />\n${readFileSync(dts, "utf8")}`);
  }
  const before = statSync(wasmFile).size;

  // Optimise for size with binaryen's wasm-opt from npm (Debian's is too old
  // for the features rustc emits), when installed. -Oz alone inlines every
  // function that has one caller, whatever its size: the raw module shrinks
  // but compresses worse, and what is served is the gzip. Measured on
  // 2026-12-02 (production module, bytes gzip): default 624,352; one-caller
  // limit 0: 586,634; 10: 583,553; 20: 584,060; 60: 589,979.
  const wasmOpt = join(pkg, "node_modules", ".bin", "wasm-opt");
  if (!args.has("--no-opt") && existsSync(wasmOpt)) {
    run(wasmOpt, ["-Oz", "--one-caller-inline-max-function-size=20", "--enable-bulk-memory",
      "--enable-nontrapping-float-to-int", "--enable-sign-ext", "--enable-mutable-globals",
      "--enable-reference-types", "--enable-multivalue", wasmFile, "-o", wasmFile]);
  } else {
    console.error("wasm-opt skipped");
  }

  // The module may import only wasm-bindgen glue, and nothing that reads a
  // clock, draws randomness or touches the network (quinn's `import "env"`
  // check, adapted): the core takes time and bytes from the host only.
  const imports = wasmImports(readFileSync(wasmFile));
  const GLUE = new Set(["wbg", `./${glue}_bg.js`]);
  const FORBIDDEN = /now|date|time|random|crypto|fetch|performance|xmlhttp|websocket|socket|process|require|env|fs_|readfile/i;
  const bad = imports.filter(({ module, name }) => !GLUE.has(module) || FORBIDDEN.test(name.replace(/^__wbg_|_[0-9a-f]{8,}$/g, "")));
  console.error(`${module.name}.wasm imports: ${imports.length} (${[...new Set(imports.map((i) => i.module))].join(", ")})`);
  if (bad.length > 0) {
    fail(`the wasm module imports what a sans-IO core must not use:\n${bad.map((i) => `  ${i.module} :: ${i.name}`).join("\n")}`);
  }
  const bytes = readFileSync(wasmFile);
  sizes.push({ ...module, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, before });
}

// 5. TypeScript.
const tsc = join(pkg, "node_modules", ".bin", "tsc");
rmSync(join(pkg, "dist"), { recursive: true, force: true });
run(tsc, ["-p", join(pkg, "tsconfig.json")]);
if (args.has("--tests")) {
  rmSync(join(pkg, "build"), { recursive: true, force: true });
  run(tsc, ["-p", join(pkg, "tsconfig.test.json")]);
}

// 6. Sizes (gzip at level 9, as a server would serve them), and the budget.
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
for (const { name, entry, raw, gzip, before } of sizes) {
  console.log(`wasm size ${name}_bg.wasm (${entry}): ${raw} bytes raw (${kib(raw)}), ${gzip} bytes gzip (${kib(gzip)}); before wasm-opt ${before} bytes`);
}
const production = sizes[0];
for (const { name, gzip } of sizes.filter((m) => m.oneProvider)) {
  if (!args.has("--no-opt") && gzip > PRODUCTION_GZIP_TARGET) {
    fail(`${name} is ${gzip} bytes gzip, over the ${PRODUCTION_GZIP_TARGET}-byte target its entry exists for`);
  }
}
if (chosen) {
  console.log(`production module with ${chosen.join(", ")}: ${production.gzip} bytes gzip`);
} else if (!args.has("--no-opt")) {
  if (production.gzip > PRODUCTION_GZIP_TARGET) {
    fail(`the production module is ${production.gzip} bytes gzip, over the ${PRODUCTION_GZIP_TARGET}-byte target: find what grew`);
  }
  console.log(`production module: ${production.gzip} bytes gzip, within the ${PRODUCTION_GZIP_TARGET}-byte target`);
}

/** The (module, name) pairs of a wasm binary's import section. */
function wasmImports(buf) {
  let at = 8;
  const u32 = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = buf[at++];
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  };
  const str = () => {
    const len = u32();
    const s = buf.subarray(at, at + len).toString("utf8");
    at += len;
    return s;
  };
  const found = [];
  while (at < buf.length) {
    const id = buf[at++];
    const size = u32();
    const end = at + size;
    if (id === 2) {
      const count = u32();
      for (let i = 0; i < count; i++) {
        const module = str();
        const name = str();
        const kind = buf[at++];
        if (kind === 0) u32();
        else if (kind === 1) { at++; const flags = u32(); u32(); if (flags & 1) u32(); }
        else if (kind === 2) { const flags = u32(); u32(); if (flags & 1) u32(); }
        else if (kind === 3) { at += 2; }
        else if (kind === 4) { at++; u32(); }
        found.push({ module, name });
      }
    }
    at = end;
  }
  return found;
}
