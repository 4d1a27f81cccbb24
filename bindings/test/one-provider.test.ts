// The one-provider entries (`reportflow/amazon-ads`, …): each loads a module
// with its provider alone into the same facade (its jobs borrowing the Node
// entries' charset decoders: MWS and SP-API reports are windows-1252 and
// Shift_JIS here), runs
// its provider's job to the reference bytes over loopback HTTP, and refuses
// another provider's job. Each entry runs in a process of its own: the
// entries share the facade, which loads one module per process.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { bindingsDir, referenceMd5, startSim } from "./helpers.js";

const exec = promisify(execFile);
const SEED = 11;

const SCRIPT = `
import { Job, runJob, fetchTransport } from "reportflow/PROVIDER";
import { simCredentials, simSampleSpec, simSigner } from "reportflow/sim";

const [baseUrl, seed, other] = process.argv.slice(1);
const origin = baseUrl + "/PROVIDER";
const config = { baseUrl: origin, authBaseUrl: origin, seed: Number(seed), poll: { initialDelayMs: 100, maxDelayMs: 400 } };
const summary = await runJob(new Job(simSampleSpec("PROVIDER"), config, simCredentials("PROVIDER")), { transport: fetchTransport(fetch), signer: await simSigner() });
let refused = null;
try {
  new Job(simSampleSpec(other), {}, simCredentials(other));
} catch (error) {
  refused = { code: error.code, message: error.message };
}
console.log(JSON.stringify({ md5: summary.md5, rows: summary.rows, refused }));
`;

for (const provider of ["amazon-ads", "amazon-ads-v3", "yandex-market", "amazon-mws", "amazon-sp-api", "lingxing", "amazon-pay"] as const) {
  test(`reportflow/${provider}: its own job to the reference bytes, another provider's refused`, { timeout: 120_000 }, async (t) => {
    const other = provider === "yandex-market" ? "amazon-ads" : "yandex-market";
    const sim = await startSim({ seed: SEED });
    try {
      const script = SCRIPT.replaceAll("PROVIDER", provider);
      const { stdout } = await exec(process.execPath, ["--input-type=module", "-e", script, sim.baseUrl, String(SEED), other], {
        cwd: bindingsDir,
        timeout: 100_000,
      });
      const run = JSON.parse(stdout.trim()) as { md5: string; rows: number; refused: { code: string; message: string } | null };
      assert.equal(run.md5, await referenceMd5(provider, SEED, (m) => t.diagnostic(m)), "the reference bytes");
      assert.ok(run.rows > 0);
      assert.equal(run.refused?.code, "invalid_config", `another provider's spec is refused: ${JSON.stringify(run.refused)}`);
      assert.match(run.refused.message, new RegExp(other), "the message names the provider it lacks");
    } finally {
      await sim.stop();
    }
  });
}
