// The simulators in-process: test a host offline, without any server.
//
// They live in their own wasm module (reportflow_sim), loaded by the entry
// `reportflow/sim` (sim-node.ts, sim-browser.ts), so that the production
// module behind `reportflow` carries no simulator. The two modules share
// nothing but plain data: a sandbox's `jobConfig` or a `send` action's
// request cross as JavaScript objects.

import initWasm, * as wasm from "../wasm/reportflow_sim.js";
import type { Credentials, JobConfig, JobSpec, LoggedRequest, Provider, SandboxOptions, SimRequest, SimResponse } from "../wasm/reportflow_sim.js";
import { ReportflowError, notInitialised } from "./errors.js";
import { TransportError, type Transport } from "./transport.js";
import { webCryptoSigner, type Signer } from "./driver.js";

export type { LoggedRequest, SandboxOptions, SimRequest, SimResponse } from "../wasm/reportflow_sim.js";

let ready = false;

/** Whether the simulator module is loaded. */
export function isSimInitialised(): boolean {
  return ready;
}

/**
 * Loads the simulator module from its bytes or a compiled module,
 * synchronously. The Node entry of `reportflow/sim` does this on import;
 * calling it again is a no-op.
 */
export function initSimSync(module: BufferSource | WebAssembly.Module): void {
  if (ready) return;
  wasm.initSync({ module });
  ready = true;
}

/**
 * Loads the simulator module from a URL, a `Response`, bytes or a compiled
 * module. The browser entry of `reportflow/sim` does this on import;
 * calling it again is a no-op.
 */
export async function initSim(source?: URL | string | Response | BufferSource | WebAssembly.Module): Promise<void> {
  if (ready) return;
  await initWasm(source === undefined ? undefined : { module_or_path: source });
  ready = true;
}

function call<T>(f: () => T): T {
  if (!ready) throw notInitialised("reportflow/sim");
  try {
    return f();
  } catch (error) {
    throw ReportflowError.from(error);
  }
}

/**
 * Every provider simulator behind one (pretend) origin, with a seeded fault
 * plan: the same simulators as `reportflow sim` and the Rust tests.
 */
export class Sandbox {
  #inner: wasm.Sandbox;

  constructor(options: SandboxOptions = {}) {
    this.#inner = call(() => new wasm.Sandbox(options));
  }

  /** Answers one request at `now`. */
  handle(now: number, request: SimRequest): SimResponse {
    return call(() => this.#inner.handle(now, request));
  }

  /** Every request handled so far (no header values, no bodies). */
  requests(): LoggedRequest[] {
    return call(() => this.#inner.requests());
  }

  /** The decoded report the sandbox created: what a job must deliver. */
  reportContent(reportId: string): Uint8Array | undefined {
    return call(() => this.#inner.reportContent(reportId));
  }

  /** A default job config pointing at this sandbox. */
  jobConfig(provider: Provider): JobConfig {
    return call(() => this.#inner.jobConfig(provider));
  }

  /** How many times a fault has fired. */
  fired(fault: string): number {
    return call(() => this.#inner.fired(fault));
  }

  free(): void {
    this.#inner.free();
  }
}

/** Providers that have a simulator. */
export function simProviders(): Provider[] {
  return call(() => wasm.simProviders());
}

/** Credentials a provider's simulator accepts (fake, public values). */
export function simCredentials(provider: Provider): Credentials {
  return call(() => wasm.simCredentials(provider));
}

/** A spec a provider's simulator serves. */
export function simSampleSpec(provider: Provider, now: number = Date.now()): JobSpec {
  return call(() => wasm.simSampleSpec(provider, now));
}

/**
 * The simulated Amazon Pay merchant's RSA private key (PKCS#8 PEM): a test
 * fixture, the key the simulator verifies signatures against.
 */
export function simMerchantKeyPem(): string {
  return call(() => wasm.simMerchantKeyPem());
}

/**
 * A WebCrypto {@link Signer} holding {@link simMerchantKeyPem} (imported
 * non-extractable for RSA-PSS/SHA-256): what `runJob`'s `signer` needs for
 * Amazon Pay against a simulator, in Node and browsers alike.
 */
export async function simSigner(subtle: SubtleCrypto = globalThis.crypto.subtle): Promise<Signer> {
  const base64 = simMerchantKeyPem().replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const der = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const key = await subtle.importKey("pkcs8", der, { name: "RSA-PSS", hash: "SHA-256" }, false, ["sign"]);
  return webCryptoSigner(key, subtle);
}

/** Fault names for `SandboxOptions.faults` and `reportflow sim --fault`. */
export function simFaults(): string[] {
  return call(() => wasm.simFaults());
}

/**
 * A {@link Transport} answered by an in-process {@link Sandbox}: no sockets.
 * Bodies are cut into `chunkBytes` pieces; a simulated disconnect becomes a
 * `reset` failure after the bytes that got through.
 */
export function sandboxTransport(sandbox: Sandbox, options: { now?: () => number; chunkBytes?: number } = {}): Transport {
  const now = options.now ?? Date.now;
  const chunkBytes = Math.max(1, options.chunkBytes ?? 16 * 1024);
  return async (request, signal) => {
    if (signal.aborted) throw new TransportError("aborted");
    const response = sandbox.handle(now(), request);
    const limit = response.disconnectAfter ?? response.body.byteLength;
    async function* body(): AsyncGenerator<Uint8Array> {
      for (let at = 0; at < limit; at += chunkBytes) {
        if (signal.aborted) throw new TransportError("aborted");
        yield response.body.subarray(at, Math.min(limit, at + chunkBytes));
      }
      if (response.disconnectAfter !== null) throw new TransportError("reset", "simulated disconnect");
    }
    return { status: response.status, headers: response.headers, body: body() };
  };
}
