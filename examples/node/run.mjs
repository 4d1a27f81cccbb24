#!/usr/bin/env node
// Runs one report job through the `reportflow` npm package, in Node.
//
// Against the simulators (start them with `reportflow sim`):
//   node examples/node/run.mjs --base-url http://127.0.0.1:PORT [--provider amazon-ads] [--out report.json]
//
// Against the real Amazon Ads API (credentials from the environment):
//   AMAZON_ADS_CLIENT_ID=… AMAZON_ADS_CLIENT_SECRET=… AMAZON_ADS_REFRESH_TOKEN=… \
//   AMAZON_ADS_PROFILE_ID=… [AMAZON_ADS_REGION=na] \
//   node examples/node/run.mjs --report-date 20240301 [--record-type campaigns] --out report.json
//
// Decoded report bytes stream into `<out>.part` and are renamed to `<out>`
// only once the job ends `done` (verified); a `dataReset` truncates the part
// file and a failure deletes it. A progress line goes to stderr; `--json`
// prints one JSON object with the outcome on stdout.

import { createWriteStream } from "node:fs";
import { rename, rm, truncate } from "node:fs/promises";
import { parseArgs } from "node:util";

// In your own project: import { … } from "reportflow" (and "reportflow/sim").
import { Job, ReportflowError, fetchTransport, runJob } from "../../bindings/dist/node.js";
import { simCredentials, simSampleSpec } from "../../bindings/dist/sim-node.js";

const { values: args } = parseArgs({
  options: {
    provider: { type: "string", default: "amazon-ads" },
    "base-url": { type: "string" },
    seed: { type: "string", default: "0" },
    "poll-ms": { type: "string" },
    out: { type: "string" },
    json: { type: "boolean", default: false },
    "report-date": { type: "string" },
    "record-type": { type: "string", default: "campaigns" },
  },
});

function jobFor(provider) {
  const seed = Number(args.seed);
  const config = { seed };
  if (args["poll-ms"]) config.poll = { initialDelayMs: Number(args["poll-ms"]), maxDelayMs: 60_000 };
  if (args["base-url"]) {
    // The simulators serve each provider under /<provider>, auth included.
    const origin = `${args["base-url"].replace(/\/$/, "")}/${provider}`;
    return { spec: simSampleSpec(provider), credentials: simCredentials(provider), config: { ...config, baseUrl: origin, authBaseUrl: origin } };
  }
  if (provider !== "amazon-ads") throw new Error(`real API runs are wired for amazon-ads only, not ${provider}`);
  const env = (name) => {
    const value = process.env[name];
    if (!value) throw new Error(`set ${name} (or pass --base-url to use the simulator)`);
    return value;
  };
  const spec = {
    provider,
    region: process.env.AMAZON_ADS_REGION ?? "na",
    profileId: env("AMAZON_ADS_PROFILE_ID"),
    recordType: args["record-type"],
    reportDate: args["report-date"] ?? env("AMAZON_ADS_REPORT_DATE"),
    tactic: "T00020",
    metrics: ["campaignName", "campaignId", "impressions", "clicks", "cost"],
  };
  const credentials = {
    provider,
    clientId: env("AMAZON_ADS_CLIENT_ID"),
    clientSecret: env("AMAZON_ADS_CLIENT_SECRET"),
    refreshToken: env("AMAZON_ADS_REFRESH_TOKEN"),
  };
  return { spec, credentials, config };
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

async function main() {
  const provider = args.provider;
  const { spec, config, credentials } = jobFor(provider);
  const job = new Job(spec, config, credentials);

  const part = args.out ? `${args.out}.part` : null;
  let file = part ? createWriteStream(part) : null;
  let phase = "starting";
  let progress = "";
  const show = () => process.stderr.write(`\r\x1b[K${provider} ${phase}${job.reportId ? ` ${job.reportId}` : ""} ${progress}`);

  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort(new Error("interrupted")));

  try {
    const summary = await runJob(job, {
      transport: fetchTransport(fetch),
      signal: controller.signal,
      onEvent(event) {
        switch (event.type) {
          case "phaseChanged":
            phase = event.to;
            break;
          case "progress":
            progress = `${kib(event.bytesIn)}${event.bytesTotal ? ` of ${kib(event.bytesTotal)}` : ""} in, ${kib(event.bytesOut)} decoded`;
            break;
          case "retrying":
            progress = `retry ${event.attempt} in ${event.afterMs} ms (${event.cause})`;
            break;
          case "data":
            file?.write(event.bytes);
            break;
          case "dataReset":
            // Provisional bytes are void: start the file again.
            if (file && part) {
              file.end();
              file = createWriteStream(part, { flags: "w" });
            }
            break;
          default:
            break;
        }
        show();
      },
    });
    if (file && part && args.out) {
      await new Promise((resolve) => file.end(resolve));
      await rename(part, args.out);
    }
    process.stderr.write(`\r\x1b[K${provider} report ${summary.reportId}: ${summary.rows} rows, ${summary.bytes} bytes, md5 ${summary.md5}, ${summary.requests} requests\n`);
    if (args.json) {
      console.log(JSON.stringify({ outcome: "done", provider, kind: null, report_id: summary.reportId, bytes: summary.bytes, rows: summary.rows, md5: summary.md5, requests: summary.requests }));
    }
  } catch (error) {
    if (file && part) {
      file.destroy();
      await truncate(part).catch(() => undefined);
      await rm(part, { force: true });
    }
    const e = error instanceof ReportflowError ? error : ReportflowError.from(error);
    process.stderr.write(`\r\x1b[K${provider}: ${e.code} (blame ${e.blame}, retryable ${e.retryable}): ${e.message}\n`);
    if (args.json) {
      console.log(JSON.stringify({ outcome: "failed", provider, kind: e.code, blame: e.blame, retryable: e.retryable, message: e.message, report_id: job.reportId, requests: job.requestsSent }));
    }
    process.exitCode = 1;
  }
}

await main();
