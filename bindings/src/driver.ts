// runJob: the one loop. Everything else in the package is conversion.

import type { Action, HttpRequest, ReportEvent, SignRequest, Summary } from "../wasm/reportflow_wasm.js";
import { ReportflowError } from "./errors.js";
import type { Job } from "./job.js";
import { classifyFailure, fetchTransport, type Transport } from "./transport.js";

/** How {@link runJob} does its I/O. Every field is optional. */
export interface RunOptions {
  /** Performs requests; default `fetchTransport(globalThis.fetch)`. */
  transport?: Transport;
  /** The wall clock in ms; default `Date.now`. */
  now?: () => number;
  /** Waits `ms` or until `signal` aborts (then resolves early); default a timer. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /**
   * Progress and data. `data` events carry decoded report bytes that are
   * PROVISIONAL: keep them only once `runJob` resolves; drop them on a
   * `dataReset` event or when it rejects.
   */
  onEvent?: (event: ReportEvent) => void;
  /** Aborting stops the loop and the request in flight; the job ends `cancelled`. */
  signal?: AbortSignal;
  /**
   * Called (and awaited) before each request goes out: the moment to persist
   * `job.snapshot()`. A request that creates a report is on record in that
   * snapshot, so a host restored after a crash never creates a second
   * report silently (it ends `report_may_exist` instead).
   */
  beforeSend?: () => void | Promise<void>;
  /**
   * Answers `sign` actions (Amazon Pay): the raw signature of
   * `request.message` by the key `request.keyId` names. The job never holds
   * the key; `webCryptoSigner(key)` signs with a WebCrypto `CryptoKey`
   * (browsers and Node), a KMS client can do the same. Without it, a job
   * that asks for a signature fails `invalid_config`.
   */
  signer?: Signer;
}

/** Signs what a `sign` action asks: the raw signature bytes. */
export type Signer = (request: SignRequest) => Uint8Array | Promise<Uint8Array>;

/**
 * A {@link Signer} over a WebCrypto RSA private key imported for
 * `{ name: "RSA-PSS", hash: "SHA-256" }` (e.g. from PKCS#8 with
 * `crypto.subtle.importKey("pkcs8", der, { name: "RSA-PSS", hash: "SHA-256" }, false, ["sign"])`);
 * the salt length comes from each request.
 */
export function webCryptoSigner(key: CryptoKey, subtle: SubtleCrypto = globalThis.crypto.subtle): Signer {
  return async (request) => {
    const message = new TextEncoder().encode(request.message);
    const { saltLength } = request.algorithm;
    return new Uint8Array(await subtle.sign({ name: "RSA-PSS", saltLength }, key, message));
  };
}

/** Longest single timer (setTimeout's limit). */
const MAX_TIMER_MS = 2_147_483_647;

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Input errors that only mean "this exchange is no longer wanted". */
const STALE = new Set(["stale_request", "stale_signature", "out_of_order", "finished"]);

/**
 * Runs a job to its end: performs its requests, waits when it says so,
 * delivers its events, and resolves with the verified {@link Summary} — or
 * rejects with a {@link ReportflowError} carrying the job's `code`, `blame`
 * and `retryable`. Aborting `signal` cancels the job (code `cancelled`, with
 * the abort reason as `cause`) and the request in flight.
 *
 * The job can be snapshotted at any time from `onEvent` and `beforeSend`
 * (persist before every send) and restored later with `Job.restore`.
 */
export async function runJob(job: Job, options: RunOptions = {}): Promise<Summary> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const onEvent = options.onEvent ?? (() => undefined);
  const signal = options.signal ?? new AbortController().signal;
  const transport = options.transport ?? fetchTransport();

  const cancelled = (): never => {
    try {
      job.cancel(now());
    } catch {
      // Already finished: report whatever it finished with below.
    }
    for (;;) {
      const action = job.poll(now());
      if (action.type === "event") {
        onEvent(action.event);
        continue;
      }
      if (action.type === "done") {
        // Finished just before the abort landed; the abort still wins for the caller.
        break;
      }
      if (action.type === "failed") {
        throw new ReportflowError(action.error, { cause: signal.reason });
      }
      break;
    }
    throw new ReportflowError(
      { code: "cancelled", blame: "host", retryable: false, message: "the job was cancelled by the host" },
      { cause: signal.reason },
    );
  };

  /**
   * Performs one request and feeds its answer. Returns the first action the
   * job produced that is not "keep feeding this request", if the exchange
   * ended early from the job's point of view.
   */
  const send = async (request: HttpRequest): Promise<Action | undefined> => {
    const id = request.id;
    if (request.sendBefore !== null && now() > request.sendBefore) {
      feed(() => job.handleTransportFailure(now(), id, "expired"));
      return undefined;
    }
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException("request timed out", "TimeoutError"));
    }, Math.min(Math.max(0, request.timeoutMs), MAX_TIMER_MS));

    const failed = (error: unknown): undefined => {
      if (signal.aborted) cancelled();
      feed(() => job.handleTransportFailure(now(), id, timedOut ? "timeout" : classifyFailure(error)));
      return undefined;
    };
    // Drains events; stops at the first action that is not "waiting for this
    // request" and hands it back to the main loop.
    const drain = (): Action | undefined => {
      for (;;) {
        const action = job.poll(now());
        if (action.type === "event") {
          onEvent(action.event);
          continue;
        }
        if (action.type === "wait" && action.reason.type === "awaitingResponse" && action.reason.id === id) return undefined;
        return action;
      }
    };

    try {
      let response;
      try {
        response = await transport(request, controller.signal);
      } catch (error) {
        return failed(error);
      }
      if (!feed(() => job.handleHead(now(), id, response.status, response.headers))) return drain();
      let pending = drain();
      if (pending) return pending;
      try {
        for await (const chunk of response.body) {
          if (!feed(() => job.handleChunk(now(), id, chunk))) return drain();
          pending = drain();
          // Leaving the loop calls the body's return(): the download stops.
          if (pending) return pending;
        }
      } catch (error) {
        return failed(error);
      }
      if (signal.aborted) cancelled();
      feed(() => job.handleEnd(now(), id));
      return undefined;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (!controller.signal.aborted) controller.abort();
    }
  };

  const feed = (f: () => void): boolean => {
    try {
      f();
      return true;
    } catch (error) {
      if (error instanceof ReportflowError && STALE.has(error.code)) return false;
      throw error;
    }
  };

  let next: Action | undefined;
  try {
    for (;;) {
      if (signal.aborted) cancelled();
      const action: Action = next ?? job.poll(now());
      next = undefined;
      switch (action.type) {
        case "send":
          if (options.beforeSend) await options.beforeSend();
          next = await send(action.request);
          break;
        case "sign": {
          if (!options.signer) {
            job.cancel(now());
            throw new ReportflowError({
              code: "invalid_config",
              blame: "config",
              retryable: false,
              message: `the job asks for a signature by key ${action.request.keyId}; pass runJob a signer (e.g. webCryptoSigner)`,
            });
          }
          const signature = await options.signer(action.request);
          // Late (signBefore passed while signing): the job asks again.
          feed(() => job.handleSignature(now(), action.request.id, signature));
          break;
        }
        case "wait": {
          const ms = action.until - now();
          if (ms > 0) await sleep(ms, signal);
          break;
        }
        case "event":
          onEvent(action.event);
          break;
        case "done":
          return action.summary;
        case "failed":
          throw new ReportflowError(action.error);
        default: {
          // A new Rust variant makes this assignment a compile error.
          const unreachable: never = action;
          throw new ReportflowError({
            code: "internal",
            blame: "host",
            retryable: false,
            message: `runJob does not know action ${JSON.stringify(unreachable)}`,
          });
        }
      }
    }
  } catch (error) {
    if (!(error instanceof ReportflowError) && !job.isFinished) {
      // An exception from onEvent, sleep or the transport's iterator: the
      // run is over, so the job must not look alive.
      try {
        job.cancel(now());
      } catch {
        // ignore
      }
    }
    throw error;
  }
}
