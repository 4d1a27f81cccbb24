// A real browser: Debian's chromium, driven by playwright-core, loads the
// example page from 127.0.0.1, runs a job against `reportflow sim`, and the
// test reads the verified outcome back from the page's #result.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type BrowserContext } from "playwright-core";
import { simProviders } from "reportflow/sim";
import { CORRUPTION_CODES, LINKLESS, NO_CORRUPTION_FAULT, bindingsDir, carriesCredentials, isDownloadHost, md5, referenceMd5, startSim } from "./helpers.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SEED = 42;
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

interface PageResult {
  state: "done" | "failed";
  md5?: string;
  rows?: number;
  bytes?: number;
  code?: string;
  blame?: string;
  dataBytes: number;
}

let context: BrowserContext;
let site: { origin: string; close(): Promise<void> };
let profile: string;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (bindings/scripts/test.sh does)`);
  const serve = (await import(pathToFileURL(join(bindingsDir, "scripts", "serve.mjs")).href)) as {
    startStaticServer(options?: { port?: number }): Promise<{ origin: string; close(): Promise<void> }>;
  };
  site = await serve.startStaticServer();
  profile = mkdtempSync(join(tmpdir(), "reportflow-chromium-"));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
});

after(async () => {
  await context?.close();
  await site?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function runInPage(provider: string, simUrl: string, task?: object): Promise<PageResult> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  try {
    const query = new URLSearchParams({ sim: simUrl, seed: String(SEED), provider, autorun: "1", ...(task ? { task: JSON.stringify(task) } : {}) });
    await page.goto(`${site.origin}/examples/browser/index.html?${query}`);
    const result = page.locator('#result[data-state="done"], #result[data-state="failed"]');
    await result.waitFor({ timeout: 90_000 }).catch((error: unknown) => {
      throw new Error(`the page never finished: ${String(error)}\n${problems.join("\n")}`);
    });
    return JSON.parse((await result.textContent())!) as PageResult;
  } finally {
    await page.close();
  }
}

// Amazon Pay too: its jobs are signed by WebCrypto (simSigner).
for (const provider of [...simProviders(), "amazon-pay" as const]) {
  test(`${provider}: Chromium ends done with the reference (Rust CLI) MD5`, async (t) => {
    const sim = await startSim({ seed: SEED });
    try {
      const [page, reference] = await Promise.all([runInPage(provider, sim.baseUrl), referenceMd5(provider, SEED, (m) => t.diagnostic(m))]);
      assert.equal(page.state, "done", JSON.stringify(page));
      assert.equal(page.md5, reference, "same report bytes as the reference host");
      assert.equal(page.dataBytes, page.bytes, "every decoded byte reached the page");
      const log = await sim.requests();
      if (provider === "amazon-ads") {
        // The browser followed /download's 307 itself and, the hop being
        // cross-origin, dropped Authorization: S3 would refuse it otherwise.
        assert.ok(log.some((r) => r.status === 307));
      }
      const downloads = log.filter((r) => isDownloadHost(r) && r.method === "GET");
      // MWS has no link to follow: GetReport is a signed call on the API host.
      assert.ok(LINKLESS.includes(provider) ? downloads.length === 0 : downloads.length >= 1);
      for (const request of downloads) assert.ok(!carriesCredentials(request), JSON.stringify(request));
      t.diagnostic(`${provider} chromium md5 ${page.md5} rows ${page.rows}`);
    } finally {
      await sim.stop();
    }
  });

  test(`${provider}: in Chromium, a corrupted body ends in ReportflowError and no data`, async (t) => {
    if (NO_CORRUPTION_FAULT.includes(provider)) {
      t.skip(`the ${provider} simulator has no corrupt-body fault`);
      return;
    }
    const sim = await startSim({ seed: SEED, faults: ["corrupt-body:always"] });
    try {
      const page = await runInPage(provider, sim.baseUrl);
      assert.equal(page.state, "failed", JSON.stringify(page));
      assert.ok(CORRUPTION_CODES.includes(page.code!), JSON.stringify(page));
      assert.equal(page.blame, "data");
      assert.equal(page.dataBytes, 0);
    } finally {
      await sim.stop();
    }
  });
}

test("amazon-pay: in Chromium, ensure writes once and a find fetches the scheduled report with the simulator's MD5", async () => {
  const sim = await startSim({ seed: SEED });
  try {
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    const ensure = { kind: "ensureSchedule", frequency: "PT5M", nextCreationTime: hourAgo };
    for (const _ of [1, 2]) {
      const page = await runInPage("amazon-pay", sim.baseUrl, ensure);
      assert.equal(page.state, "done", JSON.stringify(page));
      assert.equal(page.rows, 1);
    }
    let log = await sim.requests();
    assert.equal(log.filter((r) => r.method === "POST" && r.path.endsWith("/report-schedules")).length, 1, "one write for two ensures");
    const found = await runInPage("amazon-pay", sim.baseUrl, { kind: "findReport", createdSince: hourAgo });
    assert.equal(found.state, "done", JSON.stringify(found));
    const truth = await fetch(`${sim.baseUrl}/_sim/reports/${encodeURIComponent((found as PageResult & { reportId: string }).reportId)}`);
    assert.equal(found.md5, md5(new Uint8Array(await truth.arrayBuffer())));
    log = await sim.requests();
    assert.ok(!log.some((r) => r.method === "POST" && r.path.endsWith("/reports")), "found, not created");
    assert.ok(!log.some((r) => r.status === 401), "every WebCrypto signature verified");
  } finally {
    await sim.stop();
  }
});

// The production module leaves encoding_rs out and, in a browser, decodes
// legacy charsets with the page's TextDecoder (src/charsets-hook.ts). That
// is only sound if TextDecoder is the same decoder: checked here against
// encoding_rs itself (the charset module Node entries lend, loaded in the
// page) on every one- and two-byte input of every charset a job can lend,
// decoded whole and fed one byte at a time, through the hook's own backend.
test("Chromium's TextDecoder decodes every one- and two-byte input as encoding_rs does", async (t) => {
  const page = await context.newPage();
  try {
    await page.goto(`${site.origin}/examples/browser/index.html`);
    const outcome = await page.evaluate(async () => {
      const hook = await import("/bindings/dist/charsets-hook.js" as string);
      const rs = await import("/bindings/wasm/reportflow_charsets.js" as string);
      await rs.default({ module_or_path: "/bindings/wasm/reportflow_charsets_bg.wasm" });
      const decodeWith = (open: (label: string) => { decode(b: Uint8Array, last: boolean): string; close?(): void }, label: string, bytes: Uint8Array, bytewise: boolean): string => {
        const decoder = open(label);
        let text = "";
        if (bytewise) {
          for (let i = 0; i < bytes.length; i++) text += decoder.decode(bytes.subarray(i, i + 1), i === bytes.length - 1);
        } else {
          text = decoder.decode(bytes, true);
        }
        decoder.close?.();
        return text;
      };
      const encodingRs = (label: string) => {
        const d = new rs.CharsetDecoder(label);
        return { decode: (b: Uint8Array, last: boolean) => d.decode(b, last) as string, close: () => d.free() };
      };
      const report: { label: string; inputs: number; mismatches: string[] }[] = [];
      for (const label of ["shift_jis", "windows-1252", "utf-16", "utf-16be", "utf-8"]) {
        const mismatches: string[] = [];
        let inputs = 0;
        for (let n = 0; n < 256 + 65536; n++) {
          const bytes = n < 256 ? Uint8Array.of(n) : Uint8Array.of((n - 256) >> 8, (n - 256) & 0xff);
          inputs++;
          for (const bytewise of [false, true]) {
            const browser = decodeWith(hook.textDecoderBackend, label, bytes, bytewise);
            const reference = decodeWith(encodingRs, label, bytes, bytewise);
            if (browser !== reference && mismatches.length < 5) {
              mismatches.push(`${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ")}${bytewise ? " (bytewise)" : ""}: ${JSON.stringify(browser)} vs ${JSON.stringify(reference)}`);
            }
          }
        }
        report.push({ label, inputs, mismatches });
      }
      return report;
    });
    for (const { label, inputs, mismatches } of outcome) {
      t.diagnostic(`${label}: ${inputs} inputs, ${mismatches.length} mismatches`);
      assert.equal(inputs, 65_792);
      assert.deepEqual(mismatches, [], `${label}: TextDecoder and encoding_rs differ`);
    }
    assert.equal(outcome.length, 5);
  } finally {
    await page.close();
  }
});
