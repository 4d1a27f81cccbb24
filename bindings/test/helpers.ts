// Shared by the tests: the loopback simulator server (`reportflow sim`), the
// Rust CLI as the reference host, and a run collector.

import { spawn, execFile, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { createHash } from "node:crypto";
import type { JobConfig, Provider, ReportEvent, Summary } from "reportflow";
import type { LoggedRequest } from "reportflow/sim";

export const bindingsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const repoRoot = join(bindingsDir, "..");
export const cliPath = process.env.REPORTFLOW_CLI ?? join(repoRoot, "target", "debug", "reportflow");

/** Fast pacing for tests: the simulators generate reports in 200 ms. */
export const FAST = { pollMs: 100, retryMs: 50, generationMs: 200 };

export interface SimServer {
  baseUrl: string;
  /** The server's request log (`GET /_sim/requests`). */
  requests(): Promise<LoggedRequest[]>;
  stop(): Promise<void>;
}

/** Starts `reportflow sim` on a free loopback port and reads its base URL. */
export async function startSim(options: { seed: number; faults?: string[]; rows?: number; generationMs?: number }): Promise<SimServer> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run cargo build -p reportflow-cli`);
  const args = ["sim", "--addr", "127.0.0.1:0", "--seed", String(options.seed), "--generation-ms", String(options.generationMs ?? FAST.generationMs)];
  for (const fault of options.faults ?? []) args.push("--fault", fault);
  if (options.rows !== undefined) args.push("--rows", String(options.rows));
  const child = spawn(cliPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`reportflow sim printed no URL in 10 s: ${stderr}`)), 10_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      // "API_ORIGIN DOWNLOAD_ORIGIN": the API origin is what `--base-url` takes.
      resolve((line.trim().split(/\s+/)[0] ?? "").replace(/\/$/, ""));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`reportflow sim exited with ${code}: ${stderr}`));
    });
  });
  return {
    baseUrl,
    async requests() {
      const response = await fetch(`${baseUrl}/_sim/requests`);
      return (await response.json()) as LoggedRequest[];
    },
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

export interface CliOutcome {
  outcome: "done" | "no_data" | "failed" | "usage_error" | "local_failure";
  kind: string;
  report_id: string | null;
  bytes: number | null;
  rows: number | null;
  md5: string | null;
  requests: number;
}

/**
 * Flags that make `reportflow fetch <provider>` request the simulator's
 * sample report (`simSampleSpec`), where its defaults differ: the CLI asks
 * Yandex Market for XLSX by default, the sample spec for CSV.
 */
const CLI_SAMPLE_FLAGS: Partial<Record<Provider, string[]>> = {
  "yandex-market": ["--format", "csv"],
  // `fetch amazon-ads` speaks Reporting v3 unless told otherwise.
  "amazon-ads": ["--api", "v2"],
};

/** The `fetch` subcommand of a provider, where it is not the provider's name. */
const CLI_COMMAND: Partial<Record<Provider, string>> = {
  "amazon-ads-v3": "amazon-ads",
};

/** The `fetch` subcommand that serves `provider`. */
export function cliCommand(provider: Provider): string {
  return CLI_COMMAND[provider] ?? provider;
}

/** `reportflow fetch <provider> --base-url URL --json --seed S`: the Rust host's answer. */
export async function cliFetch(provider: Provider, baseUrl: string, seed: number): Promise<CliOutcome> {
  const args = ["--quiet", "fetch", cliCommand(provider), ...(CLI_SAMPLE_FLAGS[provider] ?? []), "--base-url", baseUrl, "--json", "--seed", String(seed), "--poll-ms", String(FAST.pollMs), "--retry-ms", String(FAST.retryMs)];
  const { stdout } = await promisify(execFile)(cliPath, args, { timeout: 120_000 }).catch((error: { stdout?: string }) => {
    // Every exit (1 failed, 4 no data, …) still prints the one JSON outcome.
    if (error.stdout) return { stdout: error.stdout };
    throw error;
  });
  return JSON.parse(stdout.trim().split("\n").pop()!) as CliOutcome;
}

let cliProviderList: string[] | undefined;

/** The providers `reportflow fetch` knows (its subcommands). */
export async function cliProviders(): Promise<string[]> {
  if (!cliProviderList) {
    const { stdout } = await promisify(execFile)(cliPath, ["fetch", "--help"]);
    const commands = stdout.split(/\n\s*\n/).find((block) => block.startsWith("Commands:")) ?? "";
    cliProviderList = commands
      .split("\n")
      .slice(1)
      .map((line) => line.trim().split(/\s+/)[0]!)
      .filter((name) => name && name !== "help");
  }
  return cliProviderList;
}

/**
 * The MD5 the reference host gets for `provider` from a fresh simulator
 * with `seed`: the Rust CLI where it knows the provider, else (reported in
 * the test output) a clean Node run.
 */
export async function referenceMd5(provider: Provider, seed: number, note: (message: string) => void): Promise<string | null> {
  const sim = await startSim({ seed });
  try {
    if ((await cliProviders()).includes(cliCommand(provider))) {
      const cli = await cliFetch(provider, sim.baseUrl, seed);
      return cli.md5;
    }
    note(`reportflow fetch has no ${provider} subcommand yet: the reference MD5 comes from a clean Node run`);
    const { Job, runJob, fetchTransport } = await import("reportflow");
    const { simSampleSpec, simCredentials, simSigner } = await import("reportflow/sim");
    const job = new Job(simSampleSpec(provider), simConfig(sim.baseUrl, provider, seed), simCredentials(provider));
    return (await runJob(job, { transport: fetchTransport(fetch), signer: await simSigner() })).md5;
  } finally {
    await sim.stop();
  }
}

/** Requests to a presigned download host (S3 and the simulators' stand-ins). */
/**
 * Providers whose report is itself a signed API call (MWS GetReport): no
 * download link, so nothing is served by the download host.
 */
export const LINKLESS: readonly string[] = ["amazon-mws"];

export function isDownloadHost(request: LoggedRequest): boolean {
  return /^\/[^/]+\/_(s3|amazon|files|documents)\//.test(request.path);
}

/**
 * Providers whose simulator does not implement `corrupt-body`: Amazon Pay
 * serves uncompressed documents and publishes no checksum, so a flipped byte
 * is undetectable by any host (see the simulator's FAULT_ANSWERS).
 */
export const NO_CORRUPTION_FAULT: readonly Provider[] = ["amazon-pay"];

/** Whether a request carried a provider credential header. */
export function carriesCredentials(request: LoggedRequest): boolean {
  return ["authorization", "api-key"].some((name) => request.headerNames.includes(name));
}

/** The job config a test uses against a loopback simulator. */
export function simConfig(baseUrl: string, provider: Provider, seed: number): JobConfig {
  const origin = `${baseUrl}/${provider}`;
  return {
    baseUrl: origin,
    authBaseUrl: origin,
    seed,
    poll: { initialDelayMs: FAST.pollMs, maxDelayMs: 400 },
    retry: { maxAttempts: 6, baseDelayMs: FAST.retryMs, maxDelayMs: 2_000 },
  };
}

/** Collects what a run delivered, honouring `dataReset`. */
export class Collector {
  events: ReportEvent[] = [];
  chunks: Uint8Array[] = [];
  resets = 0;
  readonly onEvent = (event: ReportEvent): void => {
    this.events.push(event);
    if (event.type === "data") this.chunks.push(event.bytes);
    if (event.type === "dataReset") {
      this.resets++;
      this.chunks = [];
    }
  };
  /** The provisional data as one buffer (to keep only after `done`). */
  data(): Buffer {
    return Buffer.concat(this.chunks);
  }
  types(): string[] {
    return this.events.map((e) => e.type);
  }
}

/**
 * Codes a corrupted report body may end in: the gzip trailer (CRC-32/ISIZE)
 * (or a ZIP member's CRC-32) or an MD5 catches it, or the garbage inflated from the flipped byte breaks
 * the record splitter first and the job retries until it gives up. Every one
 * is blamed on the data.
 */
export const CORRUPTION_CODES = ["md5_mismatch", "gzip", "zip", "records", "retries_exhausted"];

export function md5(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

export type { Summary };
