// Amazon Pay schedules and "find, don't create" from Node over loopback HTTP
// (`reportflow sim`), every call signed by WebCrypto (simSigner): ensure writes
// once, then never again; a find fetches a report the schedule produced.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Job, fetchTransport, runJob, type AmazonPaySpec, type AmazonPayTask } from "reportflow";
import { simCredentials, simSigner } from "reportflow/sim";
import { Collector, simConfig, startSim } from "./helpers.js";

const KEY_ID = "LIVE-AHSIMULATEDMERCHANTKEY01";
const SETTLEMENT = "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_SETTLEMENT_DATA_";

function basic(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

async function run(baseUrl: string, task: AmazonPayTask) {
  const spec: AmazonPaySpec = { provider: "amazon-pay", publicKeyId: KEY_ID, reportType: SETTLEMENT, task };
  const job = new Job(spec, simConfig(baseUrl, "amazon-pay", 1), simCredentials("amazon-pay"));
  const collector = new Collector();
  const summary = await runJob(job, { transport: fetchTransport(fetch), onEvent: collector.onEvent, signer: await simSigner() });
  const statuses = collector.events.flatMap((e) => (e.type === "reportStatus" ? [e.status] : []));
  return { summary, collector, statuses };
}

test("amazon-pay: ensure writes once, a second ensure writes nothing, and a find fetches a scheduled report", async () => {
  const sim = await startSim({ seed: 9, rows: 6 });
  try {
    const hourAgo = basic(Date.now() - 3_600_000);
    const ensure: AmazonPayTask = { kind: "ensureSchedule", frequency: "PT5M", nextCreationTime: hourAgo };
    const first = await run(sim.baseUrl, ensure);
    assert.deepEqual(first.statuses, ["created"]);
    const schedules = JSON.parse(first.collector.data().toString("utf8"));
    assert.equal(schedules.length, 1);
    assert.equal(first.summary.reportId, schedules[0].reportScheduleId);
    assert.equal(first.summary.contentType, "application/json");

    const second = await run(sim.baseUrl, ensure);
    assert.deepEqual(second.statuses, ["unchanged"]);
    const writes = (await sim.requests()).filter((r) => r.method === "POST" && r.path.endsWith("/report-schedules"));
    assert.equal(writes.length, 1, "one write for two ensures");

    const found = await run(sim.baseUrl, { kind: "findReport", createdSince: hourAgo });
    assert.equal(found.summary.outcome, "complete");
    const truth = await fetch(`${sim.baseUrl}/_sim/reports/${encodeURIComponent(found.summary.reportId)}`);
    assert.deepEqual(found.collector.data(), Buffer.from(await truth.arrayBuffer()));
    const log = await sim.requests();
    assert.ok(!log.some((r) => r.method === "POST" && r.path.endsWith("/reports")), "found, not created");
    assert.ok(!log.some((r) => r.status === 401), "every call verified");

    const nothing = await run(sim.baseUrl, { kind: "findReport", createdSince: basic(Date.now() + 3_600_000) });
    assert.equal(nothing.summary.outcome, "noData");
  } finally {
    await sim.stop();
  }
});
