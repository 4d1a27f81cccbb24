// The Job facade: the wasm class with ReportflowError and a guard against
// use after a trap.

import { Job as WasmJob } from "../wasm/reportflow_wasm.js";
import type { Action, Credentials, JobConfig, JobSpec, Phase, Provider, TransportFailure } from "../wasm/reportflow_wasm.js";
import { ReportflowError } from "./errors.js";
import { ensureInitialised } from "./init.js";

/** Set only while `Job.restore` runs the constructor around a restored instance. */
let restoring: WasmJob | null = null;

/**
 * One report lifecycle as a pure state machine (see the crate docs of
 * `reportflow` for the run loop). Most hosts hand it to {@link runJob}; the
 * methods are for hosts that drive it themselves.
 *
 * `now` is wall-clock milliseconds (`Date.now()`); ids come from the
 * `request.id` of a `send` action. Every method throws `ReportflowError`:
 * `handle*` errors are host misuse (`stale_request`, `out_of_order`,
 * `finished`, `invalid_input`) and leave the job unchanged.
 */
export class Job {
  #inner: WasmJob | null;
  #broken: ReportflowError | null = null;

  /** Creates a job; nothing is sent until the first `poll`. */
  constructor(spec: JobSpec, config: JobConfig | null | undefined, credentials: Credentials, now: number = Date.now()) {
    if (restoring) {
      this.#inner = restoring;
      return;
    }
    ensureInitialised();
    this.#inner = wrap(() => new WasmJob(spec, config ?? null, credentials, now));
  }

  /**
   * Continues a job from `snapshot()` text, with the same report id. The
   * snapshot is untrusted data: `config` is the host's own (the one the job
   * was created with); a snapshot pointing at other endpoints is refused
   * with `snapshot_mismatch` before any request.
   */
  static restore(snapshot: string, config: JobConfig | null | undefined, credentials: Credentials, now: number = Date.now()): Job {
    ensureInitialised();
    if (typeof snapshot !== "string") {
      throw new ReportflowError({ code: "malformed_snapshot", blame: "host", retryable: false, message: "snapshot must be the string returned by snapshot()" });
    }
    restoring = wrap(() => WasmJob.restore(snapshot, config ?? null, credentials, now));
    try {
      return new Job(null as never, null, null as never);
    } finally {
      restoring = null;
    }
  }

  /** The next action; after any `handle*`, poll until `wait`, `done` or `failed`. */
  poll(now: number): Action {
    return this.#call((job) => job.poll(now));
  }

  /** The status and headers of the response to request `id`. */
  handleHead(now: number, id: number, status: number, headers: Iterable<[string, string]>): void {
    const pairs = Array.isArray(headers) ? headers : Array.from(headers);
    this.#call((job) => job.handleHead(now, id, status, pairs));
  }

  /** The next piece of the response body, exactly as received. */
  handleChunk(now: number, id: number, bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) {
      throw new ReportflowError({ code: "invalid_input", blame: "host", retryable: false, message: "bytes must be a Uint8Array" });
    }
    this.#call((job) => job.handleChunk(now, id, bytes));
  }

  /** The response body of request `id` is complete. */
  handleEnd(now: number, id: number): void {
    this.#call((job) => job.handleEnd(now, id));
  }

  /** Request `id` failed before its end. */
  handleTransportFailure(now: number, id: number, failure: TransportFailure): void {
    this.#call((job) => job.handleTransportFailure(now, id, failure));
  }

  /**
   * The host did not send request `id` and will not before `until`: a rate
   * budget it shares between jobs (keyed by `request.endpoint`, provider and
   * account) has no room. The job forgets the request — no attempt spent,
   * not counted — and asks again at `until`.
   */
  handleDeferred(now: number, id: number, until: number): void {
    this.#call((job) => job.handleDeferred(now, id, until));
  }

  /**
   * The raw signature a `sign` action asked for (e.g. WebCrypto's RSA-PSS
   * result as a `Uint8Array`), before its `signBefore`. Throws
   * `stale_signature` for a late or unknown id (the job then asks again).
   */
  handleSignature(now: number, id: number, signature: Uint8Array): void {
    if (!(signature instanceof Uint8Array)) {
      throw new ReportflowError({ code: "invalid_input", blame: "host", retryable: false, message: "signature must be a Uint8Array" });
    }
    this.#call((job) => job.handleSignature(now, id, signature));
  }

  /** Stops the job: it ends `failed` with code `cancelled`. */
  cancel(now: number): void {
    this.#call((job) => job.cancel(now));
  }

  /**
   * Moves the deadline (ms since the epoch), e.g. after `Job.restore` to
   * give the job more time; a job that failed only with `deadline_exceeded`
   * continues when the new deadline lies ahead.
   */
  setDeadline(deadline: number): void {
    this.#call((job) => job.setDeadline(deadline));
  }

  /** Versioned, secret-free JSON text; `Job.restore` continues from it. */
  snapshot(): string {
    return this.#call((job) => job.snapshot());
  }

  get provider(): Provider {
    return this.#call((job) => job.provider);
  }

  get phase(): Phase {
    return this.#call((job) => job.phase);
  }

  /** The provider's report id, once the report was created. */
  get reportId(): string | null {
    return this.#call((job) => job.reportId ?? null);
  }

  /** HTTP requests sent so far, all attempts included. */
  get requestsSent(): number {
    return this.#call((job) => job.requestsSent);
  }

  /** Whether the job has ended (`done` or `failed`). */
  get isFinished(): boolean {
    return this.#call((job) => job.isFinished);
  }

  /** Releases the wasm memory now (it is also released when collected). */
  free(): void {
    const inner = this.#inner;
    this.#inner = null;
    inner?.free();
  }

  #call<T>(f: (job: WasmJob) => T): T {
    if (this.#broken) throw this.#broken;
    const inner = this.#inner;
    if (!inner) {
      throw new ReportflowError({ code: "finished", blame: "host", retryable: false, message: "this Job was freed" });
    }
    try {
      return f(inner);
    } catch (error) {
      const converted = ReportflowError.from(error);
      if (error instanceof WebAssembly.RuntimeError) {
        // A trap would be a bug in reportflow; the instance is unusable now.
        this.#broken = converted;
      }
      throw converted;
    }
  }
}

function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    throw ReportflowError.from(error);
  }
}
