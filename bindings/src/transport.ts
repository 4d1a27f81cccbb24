// The transport contract and fetchTransport, the one built-in transport.

import type { HttpRequest, TransportFailure } from "../wasm/reportflow_wasm.js";
import { platform } from "./init.js";

/** A response as the driver consumes it: head first, then the body in chunks. */
export interface TransportResponse {
  status: number;
  /** Header pairs as received (names in any case). */
  headers: Iterable<[string, string]>;
  /**
   * The body exactly as transferred, in order. The driver feeds each chunk
   * to the job as it arrives and stops iterating (so `return()` is called)
   * when the job no longer wants the rest.
   */
  body: AsyncIterable<Uint8Array>;
}

/**
 * Performs one complete request. Knows nothing of providers: URL, headers,
 * body and redirect rule are all in `request`. Abort when `signal` aborts.
 * Throw a {@link TransportError} to say precisely what failed; any other
 * exception is classified by {@link classifyFailure}.
 */
export type Transport = (request: HttpRequest, signal: AbortSignal) => Promise<TransportResponse>;

/** A transport failure with its classification. */
export class TransportError extends Error {
  readonly failure: TransportFailure;
  constructor(failure: TransportFailure, message?: string, options?: { cause?: unknown }) {
    super(message ?? (typeof failure === "string" ? `transport failed: ${failure}` : failure.other), options);
    this.name = "TransportError";
    this.failure = failure;
  }
}

const CODES: Record<string, TransportFailure> = {
  ENOTFOUND: "dns",
  EAI_AGAIN: "dns",
  ECONNREFUSED: "connect",
  EHOSTUNREACH: "connect",
  ENETUNREACH: "connect",
  UND_ERR_CONNECT_TIMEOUT: "connect",
  ECONNRESET: "reset",
  EPIPE: "reset",
  UND_ERR_SOCKET: "reset",
  UND_ERR_CLOSED: "reset",
  ETIMEDOUT: "timeout",
  UND_ERR_HEADERS_TIMEOUT: "timeout",
  UND_ERR_BODY_TIMEOUT: "timeout",
};

/**
 * Classifies an exception thrown by `fetch` or a body stream. Node's
 * `fetch` (undici) puts a system error code in `cause`; browsers say only
 * "Failed to fetch", which becomes `{ other }`.
 */
export function classifyFailure(error: unknown): TransportFailure {
  if (error instanceof TransportError) return error.failure;
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") {
      if (code in CODES) return CODES[code]!;
      if (code.startsWith("ERR_TLS") || code.includes("CERT") || code.startsWith("ERR_SSL")) return "tls";
    }
    const name = (e as { name?: unknown }).name;
    if (name === "TimeoutError") return "timeout";
    if (name === "AbortError") return "aborted";
  }
  const message = error instanceof Error ? error.message : String(error);
  return { other: message.slice(0, 300) };
}

export interface FetchTransportOptions {
  /**
   * What to do with a request whose `redirect` is `"manual"` (the Amazon Ads
   * `/download` call, answered by a 307 to a presigned S3 URL that must be
   * fetched without the Ads token).
   *
   * - `"manual"` (default in Node): do not follow; the 307 head goes to the
   *   job, which then fetches the link itself without credentials.
   * - `"follow"` (default in browsers, where a manual redirect is an opaque,
   *   unreadable response): let fetch follow. Browsers drop `Authorization`
   *   on a cross-origin redirect, and the job accepts the final 200 body as
   *   the answer to `/download`.
   */
  manualRedirect?: "manual" | "follow";
}

/**
 * A {@link Transport} over a WHATWG `fetch` (Node 18+, browsers, workers).
 * The body is read chunk by chunk from `Response.body`, so a large report
 * never sits whole in JavaScript memory.
 */
export function fetchTransport(fetchImpl: typeof fetch = globalThis.fetch, options: FetchTransportOptions = {}): Transport {
  if (typeof fetchImpl !== "function") throw new TypeError("fetchTransport needs a fetch function");
  return async (request, signal) => {
    const redirect = request.redirect === "manual" ? (options.manualRedirect ?? platform.manualRedirect) : "follow";
    const init: RequestInit = {
      method: request.method,
      headers: request.headers,
      redirect,
      signal,
      // reportflow authenticates with headers it sets itself; ambient
      // cookies must not ride along, and caches must not answer.
      credentials: "omit",
      cache: "no-store",
    };
    // A fresh copy made by the wasm glue, so always ArrayBuffer-backed.
    if (request.body && request.method !== "GET") init.body = request.body as Uint8Array<ArrayBuffer>;
    let response: Response;
    try {
      response = await fetchImpl(request.url, init);
    } catch (error) {
      throw new TransportError(classifyFailure(error), error instanceof Error ? error.message : String(error), { cause: error });
    }
    if (response.type === "opaqueredirect") {
      await response.body?.cancel().catch(() => undefined);
      throw new TransportError(
        { other: "this host turns redirect: \"manual\" into an opaque response; use fetchTransport(fetch, { manualRedirect: \"follow\" })" },
      );
    }
    return { status: response.status, headers: headerPairs(response.headers), body: chunks(response.body) };
  };
}

function headerPairs(headers: Headers): [string, string][] {
  const pairs: [string, string][] = [];
  headers.forEach((value, name) => pairs.push([name, value]));
  return pairs;
}

async function* chunks(body: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
  if (!body) return;
  const reader = body.getReader();
  let finished = false;
  try {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        throw new TransportError(classifyFailure(error) === "aborted" ? "aborted" : readFailure(error), undefined, { cause: error });
      }
      if (result.done) {
        finished = true;
        return;
      }
      if (result.value.byteLength > 0) yield result.value;
    }
  } finally {
    // The consumer stopped early (the job failed a check, or the run was
    // aborted): stop the download instead of draining it.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

function readFailure(error: unknown): TransportFailure {
  const failure = classifyFailure(error);
  // A body that breaks off mid-stream is a reset unless we know better.
  return typeof failure === "string" ? failure : "reset";
}
