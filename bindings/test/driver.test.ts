// runJob against the in-process simulators, in virtual time: every
// provider, clean and with every fault.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Job,
  ReportflowError,
  runJob,
  type Provider,
  type Summary,
} from "reportflow";
import {
  Sandbox,
  sandboxTransport,
  simCredentials,
  simProviders,
  simSampleSpec,
} from "reportflow/sim";
import { CORRUPTION_CODES, Collector, LINKLESS, carriesCredentials, isDownloadHost } from "./helpers.js";

const START = Date.UTC(2024, 2, 1, 9);

/** A virtual clock: sleeping advances it, nothing really waits. */
function virtualTime(start = START) {
  let t = start;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += Math.ceil(ms);
    },
  };
}

interface Outcome {
  summary?: Summary;
  error?: ReportflowError;
  collector: Collector;
  sandbox: Sandbox;
}

async function run(provider: Provider, faults = "", seed = 7): Promise<Outcome> {
  const sandbox = new Sandbox({ seed, faults, rows: 300 });
  const time = virtualTime();
  const job = new Job(simSampleSpec(provider, START), sandbox.jobConfig(provider), simCredentials(provider), time.now());
  const collector = new Collector();
  try {
    const summary = await runJob(job, {
      transport: sandboxTransport(sandbox, { now: time.now, chunkBytes: 4096 }),
      now: time.now,
      sleep: time.sleep,
      onEvent: collector.onEvent,
    });
    return { summary, collector, sandbox };
  } catch (error) {
    assert.ok(error instanceof ReportflowError, String(error));
    return { error, collector, sandbox };
  }
}

for (const provider of simProviders()) {
  test(`${provider}: runJob ends done with exactly the simulator's bytes`, async () => {
    const { summary, collector, sandbox, error } = await run(provider);
    assert.equal(error, undefined, error?.message);
    assert.ok(summary);
    assert.equal(summary.provider, provider);
    assert.equal(summary.outcome, "complete");
    assert.match(summary.md5, /^[0-9a-f]{32}$/);
    const truth = sandbox.reportContent(summary.reportId);
    assert.ok(truth, "the sandbox knows the report");
    assert.deepEqual(collector.data(), Buffer.from(truth));
    assert.equal(summary.bytes, truth.length);
    assert.equal(summary.rows, 300);
    const types = collector.types();
    assert.ok(types.includes("reportCreated") && types.includes("data") && types.includes("phaseChanged"), types.join());
    // The download link is fetched without the provider's credentials.
    const downloads = sandbox.requests().filter(isDownloadHost);
    if (LINKLESS.includes(provider)) {
      assert.equal(downloads.length, 0, "MWS serves its reports from the API host");
      assert.ok(sandbox.requests().some((r) => r.operation === "GetReport"));
    } else {
      assert.ok(downloads.length >= 1, "the report came from a download host");
    }
    for (const request of downloads) assert.ok(!carriesCredentials(request), request.path);
  });

  // Yandex Market tokens cannot be refreshed: a revoked one is final. MWS
  // has no tokens, links or gzip; its own fault is a missing Content-MD5.
  const unsupported: Record<string, string[]> = {
    "yandex-market": ["expired-token"],
    "amazon-mws": ["expired-token", "expired-link", "truncated-gzip"],
  };
  const recoverable = ["throttle", "server-error", "expired-token", "disconnect", "expired-link", "corrupt-body", "truncated-gzip"]
    .concat(provider === "amazon-mws" ? ["missing-md5"] : [])
    .filter((fault) => !(unsupported[provider] ?? []).includes(fault));
  for (const fault of recoverable) {
    test(`${provider}: recovers from ${fault} with the same bytes`, async () => {
      const clean = await run(provider);
      const faulty = await run(provider, fault);
      assert.equal(faulty.error, undefined, faulty.error?.message);
      assert.equal(faulty.sandbox.fired(fault), 1, `${fault} fired`);
      assert.equal(faulty.summary!.md5, clean.summary!.md5);
      assert.deepEqual(faulty.collector.data(), clean.collector.data());
      if (["disconnect", "corrupt-body", "truncated-gzip", "missing-md5"].includes(fault)) {
        assert.ok(faulty.collector.types().includes("retrying") || faulty.collector.resets > 0, faulty.collector.types().join());
      }
    });
  }

  const terminal: [string, string, string, boolean][] = [
    ["report-failure", "report_failed", "provider", true],
    ["reject-406", "rejected", "config", false],
    ["reject-422", "rejected", "config", false],
  ];
  if (provider === "yandex-market") terminal.push(["expired-token", "rejected", "config", false]);
  // Reporting v3 has no 406 (a date too far back is a 400 before any report).
  if (provider === "amazon-ads-v3") terminal.splice(1, 1);
  // MWS's _CANCELLED_ is a cancellation (not retryable), not a failed build.
  if (provider === "amazon-mws") terminal[0] = ["report-failure", "report_failed", "provider", false];
  for (const [fault, code, blame, retryable] of terminal) {
    test(`${provider}: ${fault} ends in ReportflowError ${code}`, async () => {
      const { error, summary } = await run(provider, fault);
      assert.equal(summary, undefined);
      assert.ok(error);
      assert.equal(error.code, code, error.message);
      assert.equal(error.blame, blame);
      assert.equal(error.retryable, retryable);
    });
  }

  test(`${provider}: a body corrupted on every download is never delivered as good`, async () => {
    const { error, summary, collector } = await run(provider, "corrupt-body:always");
    assert.equal(summary, undefined, "no summary for corrupt data");
    assert.ok(error);
    assert.ok(CORRUPTION_CODES.includes(error.code), error.message);
    assert.equal(error.blame, "data");
    assert.equal(error.retryable, true);
    // Data was streamed provisionally; every attempt was voided by a reset
    // or by the failure itself.
    assert.ok(collector.types().includes("data"));
    assert.ok(collector.resets >= 1, "earlier attempts were reset");
  });
}

test("an exception in onEvent stops the run and cancels the job", async () => {
  const provider = simProviders()[0]!;
  const sandbox = new Sandbox({ seed: 1 });
  const time = virtualTime();
  const job = new Job(simSampleSpec(provider, START), sandbox.jobConfig(provider), simCredentials(provider), time.now());
  const boom = new Error("host bug");
  await assert.rejects(
    runJob(job, {
      transport: sandboxTransport(sandbox, { now: time.now }),
      now: time.now,
      sleep: time.sleep,
      onEvent: (event) => {
        if (event.type === "reportCreated") throw boom;
      },
    }),
    (error) => error === boom,
  );
  assert.equal(job.isFinished, true);
});
