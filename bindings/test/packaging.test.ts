// The package as shipped: `npm pack`, install the tarball into a throwaway
// project, import it from Node (and type-check against its .d.ts), run a job.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { simCredentials, simMerchantKeyPem, simProviders, simSampleSpec } from "reportflow/sim";
import { bindingsDir, referenceMd5, startSim } from "./helpers.js";

const exec = promisify(execFile);
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const SEED = 9;

// The production entry alone: a job over loopback HTTP with only
// `reportflow` imported. The spec and credentials come in as JSON (they are
// plain data); the test runs this with the simulator entry's files removed
// from the installed package, so nothing here can lean on them.
const PRODUCTION_MJS = `
import { Job, runJob, fetchTransport, md5Hex, webCryptoSigner } from "reportflow";

const [baseUrl, jobs, pem] = process.argv.slice(2);
const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\\s+/g, ""), "base64");
const key = await crypto.subtle.importKey("pkcs8", der, { name: "RSA-PSS", hash: "SHA-256" }, false, ["sign"]);
const out = { md5OfEmpty: md5Hex(new Uint8Array()) };
for (const { provider, spec, credentials } of JSON.parse(jobs)) {
  const origin = baseUrl + "/" + provider;
  const summary = await runJob(
    new Job(spec, { baseUrl: origin, authBaseUrl: origin, poll: { initialDelayMs: 100, maxDelayMs: 400 } }, credentials),
    { transport: fetchTransport(fetch), signer: webCryptoSigner(key) },
  );
  out[provider] = { md5: summary.md5, rows: summary.rows };
}
console.log(JSON.stringify(out));
`;

const CHECK_MJS = `
import { Job, runJob, fetchTransport, md5Hex, ReportflowError } from "reportflow";
import { Sandbox, sandboxTransport, simProviders, simCredentials, simSampleSpec, simSigner } from "reportflow/sim";

const [baseUrl] = process.argv.slice(2);
const out = {};
const signer = await simSigner();
for (const provider of simProviders()) {
  // Offline, in-process, virtual time.
  let t = Date.UTC(2024, 2, 1);
  const sandbox = new Sandbox({ seed: ${SEED}, rows: 10 });
  const offline = await runJob(new Job(simSampleSpec(provider, t), sandbox.jobConfig(provider), simCredentials(provider), t), {
    transport: sandboxTransport(sandbox, { now: () => t }),
    now: () => t,
    sleep: async (ms) => { t += ms; },
    signer,
  });
  // Over loopback HTTP.
  const origin = baseUrl + "/" + provider;
  const online = await runJob(
    new Job(simSampleSpec(provider), { baseUrl: origin, authBaseUrl: origin, poll: { initialDelayMs: 100, maxDelayMs: 400 } }, simCredentials(provider)),
    { transport: fetchTransport(fetch), signer },
  );
  out[provider] = { offlineRows: offline.rows, md5: online.md5, rows: online.rows };
}
out.md5OfEmpty = md5Hex(new Uint8Array());
out.errorClass = typeof ReportflowError;
console.log(JSON.stringify(out));
`;

const CHECK_TS = `
import { Job, runJob, type Action, type Summary, type ReportEvent, ReportflowError } from "reportflow";

export function describe(action: Action): string {
  switch (action.type) {
    case "send": return action.request.url;
    case "sign": return action.request.keyId;
    case "wait": return String(action.until);
    case "event": return (action.event satisfies ReportEvent).type;
    case "done": return action.summary.md5;
    case "failed": return action.error.code;
    default: { const never: never = action; return never; }
  }
}
export async function go(job: Job): Promise<Summary | ReportflowError> {
  return runJob(job, { onEvent: (e) => void e.type }).catch((e: ReportflowError) => e);
}
`;

test("npm pack → install the tarball → import from Node → run a job", { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "reportflow-pack-"));
  const sim = await startSim({ seed: SEED });
  try {
    const { stdout: packed } = await exec(npm, ["pack", "--json", "--pack-destination", dir], { cwd: bindingsDir });
    const info = (JSON.parse(packed) as { filename: string; files: { path: string }[] }[])[0]!;
    const files = info.files.map((f) => f.path);
    for (const needed of ["package.json", "dist/node.js", "dist/browser.js", "dist/index.d.ts", "wasm/reportflow_wasm.js", "wasm/reportflow_wasm_bg.wasm", "wasm/reportflow_wasm.d.ts",
      "dist/sim-node.js", "dist/sim-browser.js", "dist/sim.d.ts", "wasm/reportflow_sim.js", "wasm/reportflow_sim_bg.wasm",
      "dist/amazon-ads-node.js", "dist/amazon-ads-browser.js", "wasm/reportflow_amazon_ads_bg.wasm", "wasm/reportflow_amazon_ads_v3_bg.wasm",
      "wasm/reportflow_yandex_market_bg.wasm", "dist/charsets-hook.js", "wasm/reportflow_charsets.js", "wasm/reportflow_charsets_bg.wasm",
      "dist/amazon-mws-node.js", "dist/amazon-sp-api-browser.js", "wasm/reportflow_amazon_mws_bg.wasm", "wasm/reportflow_amazon_sp_api_bg.wasm",
      "wasm/reportflow_lingxing_bg.wasm", "wasm/reportflow_amazon_pay_bg.wasm"]) {
      assert.ok(files.includes(needed), `the tarball ships ${needed}`);
    }
    for (const path of files) assert.ok(/^(package\.json|README\.md|LICENSE.*|dist\/.*|wasm\/.*)$/.test(path), `unexpected file in the tarball: ${path}`);

    const project = join(dir, "project");
    await exec("mkdir", ["-p", project]);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    await exec(npm, ["install", join(dir, info.filename), "--offline", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: project });

    // 1. The production entry with the simulator entry gone from the install.
    const installed = join(project, "node_modules", "reportflow");
    const aside = join(dir, "sim-entry");
    mkdirSync(aside);
    const simFiles: string[] = [];
    for (const sub of ["dist", "wasm"]) {
      for (const name of readdirSync(join(installed, sub)).filter((n) => n.startsWith("sim") || n.startsWith("reportflow_sim"))) {
        simFiles.push(join(sub, name));
        renameSync(join(installed, sub, name), join(aside, name));
      }
    }
    assert.ok(simFiles.some((f) => f.endsWith(".wasm")), `the simulator module was set aside: ${simFiles.join(", ")}`);
    const jobs = simProviders().map((provider) => ({ provider, spec: simSampleSpec(provider), credentials: simCredentials(provider) }));
    writeFileSync(join(project, "production.mjs"), PRODUCTION_MJS);
    // A simulator of its own: the reports it creates must not use up the
    // rate limits (Yandex's generate quota) of the run below.
    const productionSim = await startSim({ seed: SEED });
    const { stdout: production } = await exec(process.execPath, ["production.mjs", productionSim.baseUrl, JSON.stringify(jobs), simMerchantKeyPem()], { cwd: project, timeout: 120_000 }).finally(
      () => productionSim.stop(),
    );
    const alone = JSON.parse(production.trim()) as Record<string, { md5: string; rows: number }> & { md5OfEmpty: string };
    assert.equal(alone.md5OfEmpty, "d41d8cd98f00b204e9800998ecf8427e");
    for (const { provider } of jobs) {
      assert.equal(alone[provider]?.md5, await referenceMd5(provider, SEED, (m) => t.diagnostic(m)), `${provider}: the production entry alone gets the reference bytes`);
    }
    for (const file of simFiles) renameSync(join(aside, file.split("/").pop()!), join(installed, file));

    // 2. Both entries: the simulators in-process and over loopback.
    writeFileSync(join(project, "check.mjs"), CHECK_MJS);
    const { stdout } = await exec(process.execPath, ["check.mjs", sim.baseUrl], { cwd: project, timeout: 120_000 });
    const result = JSON.parse(stdout.trim()) as Record<string, { md5: string; rows: number; offlineRows: number }> & { md5OfEmpty: string };
    assert.equal(result.md5OfEmpty, "d41d8cd98f00b204e9800998ecf8427e");

    for (const [provider, run] of Object.entries(result)) {
      if (typeof run !== "object") continue;
      assert.equal(run.offlineRows, 10);
      assert.equal(run.md5, await referenceMd5(provider as never, SEED, (m) => t.diagnostic(m)), `${provider}: the installed package gets the reference bytes`);
    }

    // The shipped .d.ts files type-check a consumer (exports.types first),
    // without skipLibCheck: a plain ES2022 project, and a Node project with
    // @types/node but no DOM lib.
    writeFileSync(join(project, "check.ts"), CHECK_TS);
    const base = { strict: true, noEmit: true, skipLibCheck: false, module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022"] };
    const configs = {
      "tsconfig.plain.json": { ...base, types: [] },
      "tsconfig.node.json": { ...base, typeRoots: [join(bindingsDir, "node_modules", "@types")], types: ["node"] },
    };
    for (const [name, compilerOptions] of Object.entries(configs)) {
      writeFileSync(join(project, name), JSON.stringify({ compilerOptions, files: ["check.ts"] }));
      await exec(process.execPath, [join(bindingsDir, "node_modules", "typescript", "bin", "tsc"), "-p", join(project, name)], { cwd: project }).catch(
        (error: { stdout?: string }) => assert.fail(`${name}: ${error.stdout ?? String(error)}`),
      );
    }
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
