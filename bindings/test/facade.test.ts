// The facade: Job, typed actions, validation of numbers, typed errors,
// secrets, and the integrity helpers.

import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync, crc32 as nodeCrc32 } from "node:zlib";
import { createHash } from "node:crypto";
import {
  Job,
  ReportflowError,
  gunzip,
  Gunzip,
  Decoder,
  md5Hex,
  md5Base64,
  crc32,
  isInitialised,
  type Action,
  type JobSpec,
} from "reportflow";
import {
  Sandbox,
  simCredentials,
  simProviders,
  simSampleSpec,
} from "reportflow/sim";

const NOW = Date.UTC(2024, 2, 1, 12);

function newJob(provider = simProviders()[0]!): Job {
  const sandbox = new Sandbox({ seed: 1 });
  return new Job(simSampleSpec(provider, NOW), sandbox.jobConfig(provider), simCredentials(provider), NOW);
}

/** Polls past events (phase changes and the like) to the next other action. */
function next(job: Job, now: number): Action {
  for (;;) {
    const action = job.poll(now);
    if (action.type !== "event") return action;
  }
}

function expectCode(f: () => unknown, code: string, blame?: string): ReportflowError {
  try {
    f();
  } catch (error) {
    assert.ok(error instanceof ReportflowError, `expected ReportflowError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (blame) assert.equal(error.blame, blame);
    assert.equal(error.name, "ReportflowError");
    assert.equal(typeof error.retryable, "boolean");
    return error;
  }
  assert.fail(`expected a ReportflowError with code ${code}`);
}

test("the Node entry loads the wasm module on import", () => {
  assert.equal(isInitialised(), true);
});

test("a new job asks for a complete request, with bytes as Uint8Array", () => {
  const job = newJob();
  assert.equal(job.isFinished, false);
  assert.equal(job.reportId, null);
  const action = next(job, NOW);
  assert.equal(action.type, "send");
  if (action.type !== "send") return;
  const request = action.request;
  assert.ok(Number.isSafeInteger(request.id) && request.id > 0);
  assert.match(request.url, /^http:\/\//);
  assert.ok(Array.isArray(request.headers));
  for (const pair of request.headers) {
    assert.equal(pair.length, 2);
    assert.equal(typeof pair[0], "string");
    assert.equal(typeof pair[1], "string");
  }
  assert.ok(request.body === null || request.body instanceof Uint8Array);
  assert.ok(["follow", "manual"].includes(request.redirect));
  assert.equal(typeof request.timeoutMs, "number");
  assert.equal(typeof request.limits.maxBodyBytes, "number");
  assert.equal(request.sendBefore, null);
  assert.equal(job.requestsSent, 1);
  // Until the answer arrives the job waits for that request.
  const wait = next(job, NOW + 1);
  assert.equal(wait.type, "wait");
  if (wait.type === "wait") assert.deepEqual(wait.reason, { type: "awaitingResponse", id: request.id });
});

test("a host sharing rate budgets defers a request: not counted, asked again at its instant", () => {
  for (const provider of simProviders()) {
    const job = newJob(provider);
    const first = next(job, NOW);
    assert.equal(first.type, "send");
    if (first.type !== "send") return;
    assert.match(first.request.endpoint, /^(GET|POST|PUT|DELETE) \//, provider);
    assert.ok(!first.request.endpoint.includes("?"), "a template, no query");
    job.handleDeferred(NOW, first.request.id, NOW + 30_000);
    assert.equal(job.requestsSent, 0, `${provider}: a deferred request was never sent`);
    const wait = next(job, NOW + 1);
    assert.deepEqual(wait, { type: "wait", until: NOW + 30_000, reason: { type: "deferred" } }, provider);
    const again = next(job, NOW + 30_000);
    assert.equal(again.type, "send");
    if (again.type !== "send") return;
    assert.equal(again.request.endpoint, first.request.endpoint);
    assert.notEqual(again.request.id, first.request.id);
    expectCode(() => job.handleDeferred(NOW, first.request.id, NOW), "stale_request", "host");
  }
});

test("times, ids and statuses from JavaScript are validated: typed errors, never a trap", () => {
  const job = newJob();
  const send = next(job, NOW);
  assert.equal(send.type, "send");
  const id = send.type === "send" ? send.request.id : 0;
  for (const bad of [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY, 2 ** 53, -0.25]) {
    expectCode(() => job.poll(bad), "invalid_input", "host");
    expectCode(() => job.handleEnd(NOW, bad), "invalid_input", "host");
    expectCode(() => job.handleChunk(bad, id, new Uint8Array([1])), "invalid_input", "host");
  }
  for (const status of [0, 99, 1000, 70_000, 200.5, Number.NaN]) {
    expectCode(() => job.handleHead(NOW, id, status, []), "invalid_input", "host");
  }
  expectCode(() => job.handleHead(NOW, id, 200, [["a"]] as unknown as [string, string][]), "invalid_input");
  expectCode(() => job.handleChunk(NOW, id, [1, 2] as unknown as Uint8Array), "invalid_input");
  expectCode(() => job.handleTransportFailure(NOW, id, "melted" as never), "invalid_input");
  // Nothing above changed the job: the same request is still awaited.
  const after = next(job, NOW);
  assert.equal(after.type, "wait");
});

test("inputs for a request not in flight are stale_request, harmless", () => {
  const job = newJob();
  const send = next(job, NOW);
  assert.equal(send.type, "send");
  const error = expectCode(() => job.handleEnd(NOW, 999), "stale_request", "host");
  assert.equal(error.retryable, false);
  if (send.type === "send") expectCode(() => job.handleChunk(NOW, send.request.id, new Uint8Array([1])), "out_of_order", "host");
  assert.equal(next(job, NOW).type, "wait");
});

test("bad specs and credentials are config errors that name the field, never quote secrets", () => {
  const provider = simProviders()[0]!;
  const spec = simSampleSpec(provider, NOW);
  const credentials = simCredentials(provider);
  const badDate = { ...spec, reportDate: "2024-03-01" } as JobSpec;
  const error = expectCode(() => new Job(badDate, {}, credentials, NOW), "invalid_config", "config");
  assert.match(error.message, /reportDate/);
  expectCode(() => new Job({ provider } as JobSpec, {}, credentials, NOW), "invalid_config", "config");
  expectCode(() => new Job({ provider: "nobody" } as unknown as JobSpec, {}, credentials, NOW), "invalid_config");
  const leaky = { ...credentials, clientSecret: 12345, refreshToken: { nested: "CANARY-in-error" } };
  const secretError = expectCode(() => new Job(spec, {}, leaky as never, NOW), "invalid_config", "config");
  assert.ok(!secretError.message.includes("CANARY"), secretError.message);
  expectCode(() => new Job(spec, {}, credentials, Number.NaN), "invalid_input");
});

test("credentials reach JavaScript only inside send requests", () => {
  const job = newJob();
  const seen: string[] = [];
  let action: Action = next(job, NOW);
  assert.equal(action.type, "send");
  if (action.type === "send") {
    const wire = JSON.stringify(action.request.headers) + new TextDecoder().decode(action.request.body ?? new Uint8Array());
    assert.match(wire, /CANARY/, "the token request must carry the refresh token");
    job.handleHead(NOW, action.request.id, 503, [["retry-after", "1"]]);
    job.handleEnd(NOW, action.request.id);
  }
  for (let i = 0; i < 20; i++) {
    action = job.poll(NOW + i);
    if (action.type === "event") seen.push(JSON.stringify(action.event));
    if (action.type !== "event") break;
  }
  assert.ok(!job.snapshot().includes("CANARY"), "snapshot must be secret-free");
  for (const event of seen) assert.ok(!event.includes("CANARY"), event);
});

test("cancel ends the job failed with code cancelled; the end absorbs", () => {
  const job = newJob();
  next(job, NOW);
  job.cancel(NOW);
  const end = next(job, NOW);
  assert.equal(end.type, "failed");
  if (end.type === "failed") {
    assert.equal(end.error.code, "cancelled");
    assert.equal(end.error.blame, "host");
    assert.equal(end.error.retryable, false);
    assert.equal(typeof end.error.message, "string");
  }
  assert.equal(job.isFinished, true);
  assert.deepEqual(job.poll(NOW + 10), end);
  expectCode(() => job.cancel(NOW), "finished");
  job.free();
  expectCode(() => job.poll(NOW), "finished");
});

test("Action is an exhaustive union for TypeScript", () => {
  function describe(action: Action): string {
    switch (action.type) {
      case "send":
        return action.request.method;
      case "sign":
        return action.request.keyId;
      case "wait":
        return action.reason.type;
      case "event":
        return action.event.type;
      case "done":
        return action.summary.md5;
      case "failed":
        return action.error.code;
      default: {
        const unreachable: never = action;
        return unreachable;
      }
    }
  }
  function incomplete(action: Action): string {
    switch (action.type) {
      case "send":
      case "wait":
      case "event":
      case "done":
        return action.type;
      default: {
        // @ts-expect-error "failed" is not handled, so action is not never
        const unreachable: never = action;
        return String(unreachable);
      }
    }
  }
  assert.equal(describe({ type: "wait", until: 1, reason: { type: "pollBackoff" } }), "pollBackoff");
  assert.equal(incomplete({ type: "failed", error: { code: "gzip", blame: "data", retryable: true, message: "", details: null } }), "[object Object]");
});

test("ReportflowError.from maps foreign errors to internal", () => {
  const error = ReportflowError.from(new TypeError("boom"));
  assert.equal(error.code, "internal");
  assert.ok(error.cause instanceof TypeError);
  assert.deepEqual(Object.keys(error.toJSON()).sort(), ["blame", "code", "details", "message", "retryable"]);
});

test("integrity helpers agree with Node's zlib and crypto", () => {
  const text = new TextEncoder().encode(JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ row: i, name: `campaign ${i}` }))));
  const gz = new Uint8Array(gzipSync(text));
  assert.deepEqual(Buffer.from(gunzip(gz)), Buffer.from(text));
  assert.equal(md5Hex(gz), createHash("md5").update(gz).digest("hex"));
  assert.equal(md5Base64(gz), createHash("md5").update(gz).digest("base64"));
  assert.equal(crc32(text), nodeCrc32(text));
  assert.equal(crc32(new Uint8Array()), 0);

  const stream = new Gunzip();
  const parts: Uint8Array[] = [];
  for (let at = 0; at < gz.length; at += 777) parts.push(stream.push(gz.subarray(at, at + 777)));
  const stats = stream.finish();
  assert.deepEqual(Buffer.concat(parts), Buffer.from(text));
  assert.equal(stats.decompressedBytes, text.length);
  assert.equal(stats.compressedBytes, gz.length);
  assert.equal(stats.members, 1);
  expectCode(() => stream.finish(), "finished");

  const corrupt = gz.slice();
  corrupt[corrupt.length - 6] = corrupt[corrupt.length - 6]! ^ 0xff; // inside the CRC-32 trailer
  const error = expectCode(() => gunzip(corrupt), "gzip", "data");
  assert.equal(error.retryable, true);
  expectCode(() => gunzip(gz.subarray(0, gz.length - 3)), "gzip", "data");
  expectCode(() => gunzip(gz, 100), "gzip", "data");
  expectCode(() => gunzip(gz, -1), "invalid_input");
});

test("Decoder: the job's download pipeline on its own (MD5 verified, computed or skipped)", () => {
  const text = new TextEncoder().encode("sku\tqty\n".repeat(5000));
  const gz = new Uint8Array(gzipSync(text));
  const md5 = createHash("md5").update(gz).digest("hex");
  const run = (decoder: Decoder, body: Uint8Array) => {
    const parts: Uint8Array[] = [];
    for (let at = 0; at < body.length; at += 1000) parts.push(decoder.push(body.subarray(at, at + 1000)));
    return { bytes: Buffer.concat(parts), stats: decoder.finish() };
  };
  const computed = run(new Decoder(), gz);
  assert.deepEqual(computed.bytes, Buffer.from(text));
  assert.deepEqual(
    { md5: computed.stats.md5, md5Check: computed.stats.md5Check, gzip: computed.stats.gzip, raw: computed.stats.rawBytes, decoded: computed.stats.decodedBytes },
    { md5, md5Check: "computed", gzip: true, raw: gz.length, decoded: text.length },
  );
  const skipped = run(new Decoder({ fingerprint: false }), gz);
  assert.deepEqual(skipped.bytes, Buffer.from(text));
  assert.equal(skipped.stats.md5, null);
  assert.equal(skipped.stats.md5Check, "skipped");
  // A published digest is verified even with the fingerprint off.
  const base64 = createHash("md5").update(gz).digest("base64");
  assert.equal(run(new Decoder({ expectedMd5: base64, fingerprint: false }), gz).stats.md5Check, "verified");
  expectCode(() => run(new Decoder({ expectedMd5: createHash("md5").update("x").digest("hex") }), gz), "md5_mismatch", "data");
  expectCode(() => new Decoder({ expectedMd5: "not a digest" }), "invalid_input", "host");
  // Plain bodies pass through, hashed.
  const plain = run(new Decoder(), text);
  assert.deepEqual(plain.bytes, Buffer.from(text));
  assert.equal(plain.stats.gzip, false);
});
