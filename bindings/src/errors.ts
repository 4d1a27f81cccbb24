// ReportflowError: every failure reportflow reports, with a stable code.

import type { Blame, ErrorCode, ErrorPayload } from "../wasm/reportflow_wasm.js";

/**
 * A reportflow failure: a job that ended `failed`, host misuse (a stale
 * request id, a NaN time), a bad spec or snapshot, or a corrupt gzip body.
 *
 * - `code` is stable (`"md5_mismatch"`, `"rejected"`, `"invalid_input"`, …);
 * - `blame` says who has to act (`provider`, `network`, `config`, `data`,
 *   `host`);
 * - `retryable` says whether running (or restoring) the job again may succeed
 *   without changing anything.
 *
 * Messages never contain credentials.
 */
export class ReportflowError extends Error {
  readonly code: ErrorCode;
  readonly blame: Blame;
  readonly retryable: boolean;
  /** The Rust error in its serde form, when there is one. */
  readonly details: unknown;

  constructor(payload: Omit<ErrorPayload, "details"> & { details?: unknown }, options?: { cause?: unknown }) {
    super(payload.message, options);
    this.name = "ReportflowError";
    this.code = payload.code;
    this.blame = payload.blame;
    this.retryable = payload.retryable;
    this.details = payload.details ?? null;
  }

  /** The plain payload, e.g. to send over a wire or store. */
  toJSON(): ErrorPayload {
    return { code: this.code, blame: this.blame, retryable: this.retryable, message: this.message, details: this.details };
  }

  /**
   * Turns anything the wasm module threw into a `ReportflowError`. The module
   * throws `Error`s carrying `code`/`blame`/`retryable`; anything else (a
   * trap, a bug) becomes code `internal`.
   */
  static from(error: unknown): ReportflowError {
    if (error instanceof ReportflowError) return error;
    if (isPayload(error)) {
      return new ReportflowError(
        { code: error.code, blame: error.blame, retryable: error.retryable, message: error.message, details: error.details },
        { cause: error },
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    return new ReportflowError(
      { code: "internal", blame: "host", retryable: false, message: `reportflow internal error: ${message}` },
      { cause: error },
    );
  }
}

function isPayload(value: unknown): value is ErrorPayload {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.code === "string" && typeof v.blame === "string" && typeof v.retryable === "boolean" && typeof v.message === "string";
}

/** The error for using the package before its wasm module was loaded. */
export function notInitialised(entry: "reportflow" | "reportflow/sim" = "reportflow"): ReportflowError {
  const init = entry === "reportflow" ? "init()" : "initSim()";
  return new ReportflowError({
    code: "not_initialised",
    blame: "host",
    retryable: false,
    message: `wasm not initialised; import '${entry}' (auto) or call ${init}`,
  });
}
