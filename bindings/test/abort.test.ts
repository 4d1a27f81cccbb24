// Cancellation with AbortSignal stops the loop and the request in flight;
// a stalled request times out.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Job, ReportflowError, fetchTransport, runJob } from "reportflow";
import { Sandbox, sandboxTransport, simCredentials, simProviders, simSampleSpec } from "reportflow/sim";

const provider = simProviders()[0]!;

/** A server that answers every request with a head and a few bytes, then stalls. */
async function stallingServer() {
  const sockets = { opened: 0, closed: 0 };
  let onRequest: () => void = () => undefined;
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    sockets.opened++;
    res.socket?.once("close", () => sockets.closed++);
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"access_token":"');
    onRequest();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    sockets,
    whenRequested: () => new Promise<void>((resolve) => (onRequest = resolve)),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test("aborting during a wait rejects with cancelled at once", async () => {
  const sandbox = new Sandbox({ seed: 1, generationMs: 600_000 });
  const config = { ...sandbox.jobConfig(provider), poll: { initialDelayMs: 60_000, maxDelayMs: 60_000 } };
  const job = new Job(simSampleSpec(provider), config, simCredentials(provider));
  const controller = new AbortController();
  const started = Date.now();
  const run = runJob(job, {
    transport: sandboxTransport(sandbox),
    signal: controller.signal,
    onEvent: (event) => {
      if (event.type === "reportCreated") setTimeout(() => controller.abort(new Error("user pressed stop")), 50);
    },
  });
  await assert.rejects(run, (error) => {
    assert.ok(error instanceof ReportflowError);
    assert.equal(error.code, "cancelled");
    assert.equal(error.blame, "host");
    assert.equal((error.cause as Error).message, "user pressed stop");
    return true;
  });
  assert.ok(Date.now() - started < 5_000, "did not sit out the 60 s poll delay");
  assert.equal(job.isFinished, true);
  const end = job.poll(Date.now());
  assert.equal(end.type, "failed");
});

test("aborting during a request aborts the fetch itself", async () => {
  const server = await stallingServer();
  try {
    const config = { baseUrl: server.origin, authBaseUrl: server.origin, requestTimeoutMs: 60_000 };
    const job = new Job(simSampleSpec(provider), config, simCredentials(provider));
    const controller = new AbortController();
    void server.whenRequested().then(() => setTimeout(() => controller.abort(), 50));
    await assert.rejects(
      runJob(job, { transport: fetchTransport(fetch), signal: controller.signal }),
      (error) => error instanceof ReportflowError && error.code === "cancelled",
    );
    // The connection is torn down, not left to drain.
    for (let i = 0; i < 50 && server.sockets.closed < server.sockets.opened; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.sockets.opened, 1);
    assert.equal(server.sockets.closed, 1, "the in-flight fetch was aborted");
  } finally {
    await server.close();
  }
});

test("an already aborted signal never sends anything", async () => {
  const sandbox = new Sandbox({ seed: 1 });
  const job = new Job(simSampleSpec(provider), sandbox.jobConfig(provider), simCredentials(provider));
  await assert.rejects(
    runJob(job, { transport: sandboxTransport(sandbox), signal: AbortSignal.abort() }),
    (error) => error instanceof ReportflowError && error.code === "cancelled",
  );
  assert.equal(sandbox.requests().length, 0);
});

test("a stalled request times out and is retried, then the job gives up with a typed error", async () => {
  const server = await stallingServer();
  try {
    const config = {
      baseUrl: server.origin,
      authBaseUrl: server.origin,
      requestTimeoutMs: 200,
      retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
    };
    const job = new Job(simSampleSpec(provider), config, simCredentials(provider));
    const events: string[] = [];
    await assert.rejects(runJob(job, { transport: fetchTransport(fetch), onEvent: (e) => events.push(e.type) }), (error) => {
      assert.ok(error instanceof ReportflowError);
      assert.equal(error.code, "retries_exhausted", error.message);
      assert.equal(error.blame, "network");
      assert.equal(error.retryable, true);
      return true;
    });
    assert.ok(events.includes("retrying"));
    assert.equal(server.sockets.opened, 2);
  } finally {
    await server.close();
  }
});
