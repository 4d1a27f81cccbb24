// Every implemented provider end to end over real loopback HTTP
// (`reportflow sim`), with Node's fetch; the Rust CLI is the reference.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { Job, ReportflowError, fetchTransport, runJob, type Provider } from "reportflow";
import { simCredentials, simProviders, simSampleSpec, simSigner } from "reportflow/sim";
import { CORRUPTION_CODES, NO_CORRUPTION_FAULT, Collector, LINKLESS, carriesCredentials, cliCommand, cliFetch, cliProviders, isDownloadHost, md5, referenceMd5, repoRoot, simConfig, startSim, FAST } from "./helpers.js";


const SEED = 42;

async function nodeRun(provider: Provider, baseUrl: string, seed: number, options: { manualRedirect?: "manual" | "follow" } = {}) {
  const config = simConfig(baseUrl, provider, seed);
  const job = new Job(simSampleSpec(provider), config, simCredentials(provider));
  const collector = new Collector();
  const transport = fetchTransport(fetch, options.manualRedirect ? { manualRedirect: options.manualRedirect } : {});
  try {
    const summary = await runJob(job, { transport, onEvent: collector.onEvent, signer: await simSigner() });
    return { summary, collector, error: undefined };
  } catch (error) {
    assert.ok(error instanceof ReportflowError, String(error));
    return { summary: undefined, collector, error };
  }
}

async function groundTruth(baseUrl: string, reportId: string): Promise<Buffer> {
  const response = await fetch(`${baseUrl}/_sim/reports/${encodeURIComponent(reportId)}`);
  assert.equal(response.status, 200);
  return Buffer.from(await response.arrayBuffer());
}

// Amazon Pay too: its jobs are signed by WebCrypto (simSigner).
for (const provider of [...simProviders(), "amazon-pay" as const]) {
  test(`${provider}: Node ends done with the simulator's bytes and the reference (Rust CLI) MD5 for seed ${SEED}`, async (t) => {
    const sim = await startSim({ seed: SEED });
    try {
      const [node, reference] = await Promise.all([
        nodeRun(provider, sim.baseUrl, SEED),
        referenceMd5(provider, SEED, (m) => t.diagnostic(m)),
      ]);
      assert.equal(node.error, undefined, node.error?.message);
      const summary = node.summary!;
      assert.equal(summary.md5, reference, "same report bytes as the reference host");
      const data = node.collector.data();
      if (!summary.parts?.length) assert.deepEqual(data, await groundTruth(sim.baseUrl, summary.reportId));
      assert.equal(data.length, summary.bytes);
      // The download link was fetched without the provider's credentials.
      const log = await sim.requests();
      for (const request of log.filter(isDownloadHost)) assert.ok(!carriesCredentials(request), request.path);
      t.diagnostic(`${provider} node md5 ${summary.md5} rows ${summary.rows} bytes ${summary.bytes} data-md5 ${md5(data)}`);
    } finally {
      await sim.stop();
    }
  });

  test(`${provider}: the Rust CLI and Node agree on rows and bytes`, async (t) => {
    if (!(await cliProviders()).includes(cliCommand(provider))) {
      t.skip(`reportflow fetch has no ${provider} subcommand yet`);
      return;
    }
    const [nodeSim, cliSim] = await Promise.all([startSim({ seed: SEED }), startSim({ seed: SEED })]);
    try {
      const [node, cli] = await Promise.all([nodeRun(provider, nodeSim.baseUrl, SEED), cliFetch(provider, cliSim.baseUrl, SEED)]);
      assert.equal(node.error, undefined, node.error?.message);
      assert.equal(cli.outcome, "done");
      assert.equal(node.summary!.md5, cli.md5);
      assert.equal(node.summary!.rows, cli.rows);
      assert.equal(node.summary!.bytes, cli.bytes);
      if (provider === "amazon-ads") {
        // Node followed no redirect itself: the 307 went to the job.
        assert.ok((await nodeSim.requests()).some((r) => r.status === 307));
      }
    } finally {
      await Promise.all([nodeSim.stop(), cliSim.stop()]);
    }
  });

  test(`${provider}: redirect "follow" (the browser way) also works, across origins`, async (t) => {
    const sim = await startSim({ seed: SEED });
    try {
      // The simulator serves report links from its own download origin, as
      // production does (S3, the file hosts): undici follows the 307 and,
      // the hop being cross-origin, drops Authorization — which S3 needs.
      const run = await nodeRun(provider, sim.baseUrl, SEED, { manualRedirect: "follow" });
      assert.equal(run.error, undefined, run.error?.message);
      const log = await sim.requests();
      const downloads = log.filter(isDownloadHost);
      // MWS has no link to follow: GetReport is a signed call on the API host.
      assert.ok(LINKLESS.includes(provider) ? downloads.length === 0 : downloads.length >= 1);
      for (const request of downloads) {
        assert.ok(!carriesCredentials(request), request.path);
        assert.notEqual(request.origin, sim.baseUrl, "served by the download host");
      }
      assert.equal(run.summary!.md5, await referenceMd5(provider, SEED, (m) => t.diagnostic(m)));
    } finally {
      await sim.stop();
    }
  });

  // MWS has no links to expire; its own download fault is a missing Content-MD5.
  const httpFaults = ["throttle", "server-error", "disconnect", provider === "amazon-mws" ? "missing-md5" : "expired-link", "corrupt-body"];
  for (const fault of httpFaults) {
    test(`${provider}: over HTTP, recovers from ${fault} with the same MD5`, async (t) => {
      if (fault === "corrupt-body" && NO_CORRUPTION_FAULT.includes(provider)) {
        t.skip(`the ${provider} simulator has no ${fault} fault`);
        return;
      }
      const sim = await startSim({ seed: SEED, faults: [fault] });
      try {
        const run = await nodeRun(provider, sim.baseUrl, SEED);
        assert.equal(run.error, undefined, run.error?.message);
        const log = await sim.requests();
        assert.ok(log.some((r) => r.fault === fault), `${fault} fired`);
        assert.equal(run.summary!.md5, await referenceMd5(provider, SEED, (m) => t.diagnostic(m)));
        if (!run.summary!.parts?.length) assert.deepEqual(run.collector.data(), await groundTruth(sim.baseUrl, run.summary!.reportId));
      } finally {
        await sim.stop();
      }
    });
  }

  test(`${provider}: a body corrupted on every download ends in ReportflowError, as in the CLI`, async (t) => {
    if (NO_CORRUPTION_FAULT.includes(provider)) {
      t.skip(`the ${provider} simulator has no corrupt-body fault`);
      return;
    }
    const sim = await startSim({ seed: SEED, faults: ["corrupt-body:always"] });
    try {
      const run = await nodeRun(provider, sim.baseUrl, SEED);
      assert.equal(run.summary, undefined, "nothing delivered as good");
      const error = run.error!;
      assert.ok(error instanceof ReportflowError);
      assert.ok(CORRUPTION_CODES.includes(error.code), error.message);
      assert.equal(error.blame, "data");
      if ((await cliProviders()).includes(cliCommand(provider))) {
        // A fresh simulator: providers rate-limit report creation per kind.
        const cliSim = await startSim({ seed: SEED, faults: ["corrupt-body:always"] });
        try {
          const cli = await cliFetch(provider, cliSim.baseUrl, SEED);
          assert.equal(cli.outcome, "failed");
          assert.ok(CORRUPTION_CODES.includes(cli.kind!), cli.kind!);
        } finally {
          await cliSim.stop();
        }
      }
    } finally {
      await sim.stop();
    }
  });
}

test("examples/node runs a job through the package against reportflow sim", async (t) => {
  const provider = simProviders()[0]!;
  const sim = await startSim({ seed: SEED });
  try {
    const script = join(repoRoot, "examples", "node", "run.mjs");
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [script, "--provider", provider, "--base-url", sim.baseUrl, "--seed", String(SEED), "--poll-ms", String(FAST.pollMs), "--json"],
      { timeout: 60_000 },
    );
    const outcome = JSON.parse(stdout.trim().split("\n").pop()!) as { outcome: string; md5: string; rows: number };
    assert.equal(outcome.outcome, "done", stderr);
    assert.equal(outcome.md5, await referenceMd5(provider, SEED, (m) => t.diagnostic(m)));
    assert.match(stderr, /rows|bytes/, "a progress line");
  } finally {
    await sim.stop();
  }
});
