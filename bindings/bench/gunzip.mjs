#!/usr/bin/env node
// The download pipeline in JavaScript hosts, against the platforms' own
// gunzip, on the same gzip report (≥ 256 MiB decoded), one run each:
//
//   Node:     reportflow's wasm `Decoder` (MD5 of the raw bytes + inflate +
//             CRC-32/ISIZE + limits) through the npm package, vs
//             zlib.createGunzip() + crypto.createHash("md5") streaming;
//   Chromium: the same `Decoder` in a page (the browser entry), vs
//             DecompressionStream("gzip") (no MD5: browsers have no
//             streaming MD5), driven by playwright-core with /usr/bin/chromium.
//
// Run with `npm run bench` in bindings/ after `npm run build`. Not part of
// the test command. Environment: REPORTFLOW_BENCH_MIB (decoded size, default
// 256), REPORTFLOW_BENCH_GZ (an existing .gz to use instead),
// REPORTFLOW_BENCH_ROUNDS (interleaved rounds in Node, default 5; the best
// of each side counts, so a busy shared machine disturbs the ratio less),
// CHROMIUM (browser binary; "skip" to leave the browser out).
// MB/s = 10^6 decoded bytes per second of CPU time (Node: the ratio that
// counts, see below) and of wall time (Node and Chromium).

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { createGunzip, createGzip } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..");
const root = join(pkg, "..");
const MIB = 1 << 20;
const CHUNK = 64 * 1024;

const { Decoder } = await import(join(pkg, "dist", "node.js"));

const gzPath = process.env.REPORTFLOW_BENCH_GZ ?? (await ensureReport(Number(process.env.REPORTFLOW_BENCH_MIB ?? 256)));
const compressed = statSync(gzPath).size;

// ---- Node -----------------------------------------------------------------
// Both sides read the file in 64 KiB chunks, stream them through a decoder
// that hashes the raw bytes and inflates, and receive every decoded byte in
// JavaScript. Node's zlib inflates on the libuv threadpool while MD5 runs on
// the main thread, so wall time flatters it on an idle machine (two cores
// at once) and punishes it on a busy one (thread hand-offs). The ratio that
// counts is therefore CPU time: process.cpuUsage() covers every thread of
// the process (file reads, zlib workers, GC), for both sides alike. Rounds
// are interleaved (the order alternating) and the best run of each side
// counts, so a burst of load from other processes hits one run, not the
// ratio. Every run is one pass in a fresh child process (`--side
// wasm|node`): in one process, whatever ran before made Node's pipeline up
// to 2.5x dearer (measured: 545-590 ms of CPU as a process's first pass,
// 700-1400 ms after a pass of either side), which would flatter the wasm
// side. A fresh process costs the wasm side its JIT warm-up instead (V8
// starts wasm in its baseline tier): about 60 ms here, kept in.
const wasmRun = () => measured(async () => {
  const decoder = new Decoder();
  let decoded = 0;
  for await (const chunk of createReadStream(gzPath, { highWaterMark: CHUNK })) decoded += decoder.push(chunk).length;
  const stats = decoder.finish();
  if (stats.decodedBytes !== decoded) throw new Error("decoded byte counts disagree");
  return { decoded, md5: stats.md5 };
});
const nodeRun = () => measured(async () => {
  const md5 = createHash("md5");
  let decoded = 0;
  const source = createReadStream(gzPath, { highWaterMark: CHUNK });
  source.on("data", (chunk) => md5.update(chunk));
  const gunzip = createGunzip();
  gunzip.on("data", (chunk) => {
    decoded += chunk.length;
  });
  await pipeline(source, gunzip);
  return { decoded, md5: md5.digest("hex") };
});
if (process.argv[2] === "--side") {
  const result = await (process.argv[3] === "wasm" ? wasmRun : nodeRun)();
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
}
console.log(`report: ${gzPath} (${(compressed / MIB).toFixed(1)} MiB gzip)`);
const rounds = Math.max(1, Number(process.env.REPORTFLOW_BENCH_ROUNDS ?? 5));
const runs = { wasm: [], node: [] };
for (let i = 0; i < rounds; i++) {
  const order = i % 2 === 0 ? ["wasm", "node"] : ["node", "wasm"];
  for (const side of order) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--side", side], {
      env: { ...process.env, REPORTFLOW_BENCH_GZ: gzPath },
      encoding: "utf8",
    });
    runs[side].push(JSON.parse(out));
  }
}
const best = (side, key) => runs[side].reduce((a, b) => (b[key] < a[key] ? b : a));
for (const side of ["wasm", "node"]) {
  if (runs[side].some((r) => r.decoded !== runs.node[0].decoded || r.md5 !== runs.node[0].md5)) throw new Error("the two pipelines disagree");
}
const decodedBytes = runs.node[0].decoded;
const list = (side, key) => runs[side].map((r) => r[key].toFixed(0)).join(", ");
console.log(`\n${(decodedBytes / MIB).toFixed(0)} MiB decoded, 64 KiB reads, ${rounds} interleaved rounds, best of each side`);
console.log(`  CPU ms  (all threads): wasm ${list("wasm", "cpu")}; Node ${list("node", "cpu")}`);
console.log(`  wall ms:               wasm ${list("wasm", "ms")}; Node ${list("node", "ms")}`);
console.log(`  ${"".padEnd(62)} ${"CPU MB/s".padStart(9)} ${"wall MB/s".padStart(10)}`);
row("Node: reportflow wasm Decoder (md5+inflate+crc+limits)", best("wasm", "cpu").cpu, best("wasm", "ms").ms, decodedBytes);
row("Node: zlib.createGunzip + crypto md5 (streaming)", best("node", "cpu").cpu, best("node", "ms").ms, decodedBytes);
console.log(`  ratio wasm / Node, CPU time         ${(best("node", "cpu").cpu / best("wasm", "cpu").cpu).toFixed(3)}  (target >= 1.3)`);
console.log(`  ratio wasm / Node, wall time        ${(best("node", "ms").ms / best("wasm", "ms").ms).toFixed(3)}  (Node's zlib runs on a second thread)`);
const median = (side) => runs[side].map((r) => r.cpu).sort((a, b) => a - b)[Math.floor(rounds / 2)];
console.log(`  ratio of the median CPU times       ${(median("node") / median("wasm")).toFixed(3)}  (load from other processes included)`);

// ---- Chromium ---------------------------------------------------------------
const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (chromium === "skip" || !existsSync(chromium)) {
  console.log(`\nChromium: skipped (${chromium === "skip" ? "CHROMIUM=skip" : `${chromium} not found`})`);
} else {
  const page = await browserBench(chromium);
  if (page.wasm.decoded !== decodedBytes || page.native.decoded !== decodedBytes) throw new Error(`the page decoded other sizes: ${JSON.stringify(page)}`);
  if (page.wasm.md5 !== runs.node[0].md5) throw new Error("the page's MD5 differs");
  console.log(`\nChromium (${page.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? "?"}), fetch of the same file, one run each`);
  console.log(`  ${"".padEnd(62)} ${"".padStart(9)} ${"wall MB/s".padStart(10)}`);
  row("Chromium: reportflow wasm Decoder (md5+inflate+crc+limits)", null, page.wasm.ms, decodedBytes);
  row("Chromium: DecompressionStream('gzip') (no md5)", null, page.native.ms, decodedBytes);
  console.log(`  ratio wasm / DecompressionStream   ${(page.native.ms / page.wasm.ms).toFixed(3)}`);
}

/** One table row: MB/s (10^6 decoded bytes per second) of CPU time and of wall time. */
function row(name, cpuMs, wallMs, bytes) {
  const rate = (ms) => (ms === null ? "" : (bytes / ms / 1e3).toFixed(1));
  console.log(`  ${name.padEnd(62)} ${rate(cpuMs).padStart(9)} ${rate(wallMs).padStart(10)}`);
}

/** Runs `f` once and adds its wall and CPU milliseconds. */
async function measured(f) {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const out = await f();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { ...out, ms, cpu: (used.user + used.system) / 1e3 };
}

/** A deterministic JSON-array report of `mib` MiB, gzipped (level 6), cached under target/. */
async function ensureReport(mib) {
  const dir = join(root, "target", "reportflow-bench");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `js-report-${mib}m.json.gz`);
  if (existsSync(path)) return path;
  console.log(`generating ${path} …`);
  async function* rows() {
    let size = 1;
    let seed = 12345;
    yield "[";
    for (let i = 0; size < mib * MIB; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const row = `${i ? "," : ""}{"campaignId":${1e12 + i},"date":"2024-03-${String(1 + (i % 28)).padStart(2, "0")}","clicks":${seed % 997},"cost":${(seed % 100000) / 100},"name":"campaign ${seed.toString(36)}"}\n`;
      size += row.length;
      yield row;
    }
    yield "]";
  }
  await pipeline(rows, createGzip({ level: 6 }), createWriteStream(path));
  return path;
}

/** Runs both decoders in a Chromium page served from a loopback server. */
async function browserBench(executablePath) {
  const TYPES = { ".js": "text/javascript", ".wasm": "application/wasm", ".html": "text/html" };
  const page = `<!doctype html><meta charset="utf-8"><script type="importmap">{"imports":{"reportflow":"/dist/browser.js"}}</script>
<script type="module">
import { Decoder } from "reportflow";
async function time(f) { const t = performance.now(); const out = await f(); return { ...out, ms: performance.now() - t }; }
window.bench = async () => {
  const wasm = await time(async () => {
    const decoder = new Decoder();
    let decoded = 0;
    const reader = (await fetch("/report.gz")).body.getReader();
    for (;;) { const { done, value } = await reader.read(); if (done) break; decoded += decoder.push(value).length; }
    return { decoded, md5: decoder.finish().md5 };
  });
  const native = await time(async () => {
    let decoded = 0;
    const reader = (await fetch("/report.gz")).body.pipeThrough(new DecompressionStream("gzip")).getReader();
    for (;;) { const { done, value } = await reader.read(); if (done) break; decoded += value.length; }
    return { decoded };
  });
  return { wasm, native, userAgent: navigator.userAgent };
};
window.ready = true;
</script>`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x").pathname;
    if (url === "/") return res.writeHead(200, { "content-type": "text/html" }).end(page);
    if (url === "/report.gz") {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": compressed });
      return createReadStream(gzPath).pipe(res);
    }
    const m = url.match(/^\/(dist|wasm)\/([\w.-]+)$/);
    if (!m) return res.writeHead(404).end();
    try {
      res.writeHead(200, { "content-type": TYPES[extname(m[2])] ?? "application/octet-stream" }).end(readFileSync(join(pkg, m[1], m[2])));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const tab = await browser.newPage();
    await tab.goto(`http://127.0.0.1:${server.address().port}/`);
    await tab.waitForFunction(() => window.ready === true);
    return await tab.evaluate(() => window.bench());
  } finally {
    await browser.close();
    server.close();
  }
}
