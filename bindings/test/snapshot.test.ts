// Snapshots: secret-free JSON text, round trip, and restore after a crash
// continues the same report without creating another.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Job, ReportflowError, TransportError, runJob } from "reportflow";
import { Sandbox, sandboxTransport, simCredentials, simProviders, simSampleSpec } from "reportflow/sim";
import { Collector } from "./helpers.js";

const START = Date.UTC(2024, 2, 1, 9);

/** The report-creating endpoint of each provider. */
const CREATE_PATH: Record<string, RegExp> = {
  "amazon-ads": /\/sd\/[^/]+\/report$/,
  "amazon-ads-v3": /\/reporting\/reports$/,
  lingxing: /\/report\/create\/reportExportTask$/,
  "yandex-market": /\/reports\/[^/]+\/generate$/,
  "amazon-sp-api": /\/reports\/2021-06-30\/reports$/,
};

/** Whether a request created a report: by its path, or for MWS (one path
 * for every operation) by its `Action`. */
/** Providers that look a lost create up (SP-API's getReports) instead of ending `report_may_exist`. */
const FINDS_LOST_CREATES = ["amazon-sp-api"];

function isCreate(provider: string, method: string, path: string, operation?: string | null): boolean {
  if (provider === "amazon-mws") return method === "POST" && operation === "RequestReport";
  return method === "POST" && CREATE_PATH[provider]!.test(path);
}

for (const provider of simProviders()) {
  test(`${provider}: snapshot text round-trips and holds no secret`, () => {
    const sandbox = new Sandbox({ seed: 3 });
    const job = new Job(simSampleSpec(provider, START), sandbox.jobConfig(provider), simCredentials(provider), START);
    const action = job.poll(START);
    assert.equal(action.type, "send");
    const text = job.snapshot();
    assert.equal(typeof text, "string");
    const parsed = JSON.parse(text) as { formatVersion: number };
    assert.equal(parsed.formatVersion, 3, "snapshot format 3 (formats 1 and 2 are refused on restore)");
    assert.ok(!text.includes("CANARY"), "no credential in the snapshot");
    const restored = Job.restore(text, sandbox.jobConfig(provider), simCredentials(provider), START);
    assert.equal(restored.snapshot(), text);
    assert.equal(restored.provider, provider);
  });

  test(`${provider}: a host that crashes after reportCreated restores and finishes the same report`, async () => {
    let t = START;
    const now = () => t;
    const sleep = async (ms: number) => {
      t += Math.ceil(ms);
    };
    const sandbox = new Sandbox({ seed: 5, rows: 50 });
    const transport = sandboxTransport(sandbox, { now });
    const job = new Job(simSampleSpec(provider, START), sandbox.jobConfig(provider), simCredentials(provider), now());
    let saved = "";
    const crash = new Error("host crashed");
    await assert.rejects(
      runJob(job, {
        transport,
        now,
        sleep,
        onEvent: (event) => {
          if (event.type === "reportCreated") {
            saved = job.snapshot();
            throw crash;
          }
        },
      }),
      (error) => error === crash,
    );
    const reportId = job.reportId;
    assert.ok(reportId);
    assert.ok(saved.includes(reportId));
    job.free();

    t += 5_000;
    const restored = Job.restore(saved, sandbox.jobConfig(provider), simCredentials(provider), now());
    assert.equal(restored.reportId, reportId);
    const collector = new Collector();
    const summary = await runJob(restored, { transport, now, sleep, onEvent: collector.onEvent });
    assert.equal(summary.reportId, reportId);
    assert.deepEqual(collector.data(), Buffer.from(sandbox.reportContent(reportId)!));
    assert.ok(!collector.types().includes("reportCreated"), "the restored job created no report");
    const creates = sandbox.requests().filter((r) => isCreate(provider, r.method, r.path, r.operation));
    assert.equal(creates.length, 1, "one create request in all");
  });
}

test("restore refuses malformed and future snapshots with typed errors", () => {
  const provider = simProviders()[0]!;
  const credentials = simCredentials(provider);
  for (const [text, code] of [
    ["not json", "malformed_snapshot"],
    ["{}", "malformed_snapshot"],
    [JSON.stringify({ formatVersion: 999 }), "unsupported_snapshot"],
  ] as const) {
    assert.throws(
      () => Job.restore(text, null, credentials, START),
      (error) => error instanceof ReportflowError && error.code === code && error.blame === "host",
    );
  }
  assert.throws(
    () => Job.restore(42 as unknown as string, null, credentials, START),
    (error) => error instanceof ReportflowError && error.code === "malformed_snapshot",
  );
  const sandbox = new Sandbox({});
  const job = new Job(simSampleSpec(provider, START), sandbox.jobConfig(provider), credentials, START);
  assert.throws(
    () => Job.restore(job.snapshot(), sandbox.jobConfig(provider), credentials, Number.NaN),
    (error) => error instanceof ReportflowError && error.code === "invalid_input",
  );
});

for (const provider of simProviders()) {
  test(`${provider}: a snapshot edited to send credentials elsewhere is refused, and nothing is sent`, () => {
    const sandbox = new Sandbox({ seed: 7 });
    const config = sandbox.jobConfig(provider);
    const job = new Job(simSampleSpec(provider, START), config, simCredentials(provider), START);
    const text = job.snapshot();
    const before = sandbox.requests().length;
    for (const field of ["baseUrl", "authBaseUrl"] as const) {
      const edited = JSON.parse(text) as { job: { config: Record<string, unknown> } };
      edited.job.config[field] = "https://attacker.example";
      assert.throws(
        () => Job.restore(JSON.stringify(edited), config, simCredentials(provider), START),
        (error) =>
          error instanceof ReportflowError &&
          error.code === "snapshot_mismatch" &&
          error.blame === "host" &&
          error.message.includes("attacker.example") &&
          !error.message.includes("CANARY"),
      );
    }
    // A host config without the simulator's origins is refused the same way.
    assert.throws(
      () => Job.restore(text, null, simCredentials(provider), START),
      (error) => error instanceof ReportflowError && error.code === "snapshot_mismatch",
    );
    assert.equal(sandbox.requests().length, before, "no request left");
  });
}

for (const provider of simProviders()) {
  test(`${provider}: a host that crashes with its create in flight restores to report_may_exist (or finds the report), not a second report`, async () => {
    let t = START;
    const now = () => t;
    const sleep = async (ms: number) => {
      t += Math.ceil(ms);
    };
    const sandbox = new Sandbox({ seed: 9, rows: 20 });
    const config = sandbox.jobConfig(provider);
    const inner = sandboxTransport(sandbox, { now });
    // The provider gets the create (and makes the report); the host stops
    // before its answer arrives. Its state is the snapshot it persisted
    // before the send.
    const host = new AbortController();
    const crashing: typeof inner = async (request, signal) => {
      const response = await inner(request, signal);
      const action = request.body ? new URLSearchParams(new TextDecoder().decode(request.body)).get("Action") : null;
      if (isCreate(provider, request.method, new URL(request.url).pathname, action)) {
        host.abort(new Error("host crashed with the create in flight"));
        throw new TransportError("aborted");
      }
      return response;
    };
    const job = new Job(simSampleSpec(provider, START), config, simCredentials(provider), now());
    let saved = "";
    await assert.rejects(
      runJob(job, { transport: crashing, now, sleep, signal: host.signal, beforeSend: () => void (saved = job.snapshot()) }),
    );
    job.free();
    assert.match(saved, /"createSent":\d+/, "the create is on record");
    const restored = Job.restore(saved, config, simCredentials(provider), now());
    if (FINDS_LOST_CREATES.includes(provider)) {
      const summary = await runJob(restored, { transport: inner, now, sleep });
      assert.equal(summary.outcome, "complete", "the report the lost create made, found by listing");
    } else {
      await assert.rejects(
        runJob(restored, { transport: inner, now, sleep }),
        (error) => error instanceof ReportflowError && error.code === "report_may_exist" && error.blame === "config",
      );
    }
    const creates = sandbox.requests().filter((r) => isCreate(provider, r.method, r.path, r.operation));
    assert.equal(creates.length, 1, "one create request in all");
  });
}
