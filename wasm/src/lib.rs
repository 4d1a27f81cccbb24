//! wasm-bindgen surface of [`reportflow`]: the same report jobs, integrity
//! helpers and simulators for JavaScript hosts (Node and browsers).
//!
//! This crate converts types and nothing else. Every method turns its
//! JavaScript arguments into core values, calls the one core function that
//! does the work and converts the result back:
//!
//! - bytes cross as typed arrays (`Uint8Array` in, `Uint8Array` out);
//! - control data (specs, configs, credentials, events, summaries) cross as
//!   plain objects through serde-wasm-bindgen in JSON-compatible mode;
//! - times and ids are JavaScript numbers, validated on the way in (NaN,
//!   negative or fractional values give a typed `invalid_input` error, never
//!   a trap);
//! - every failure is `{ code, blame, retryable, message, details }`, thrown
//!   as an `Error` named `ReportflowError`, or carried as data in a `failed`
//!   action.
//!
//! The only place where a credential reaches JavaScript is the `send`
//! action's request (its `Authorization` header and token form): the host
//! must put it on the wire. Snapshots, events and errors never hold one.
//!
//! The npm package `reportflow` (in `bindings/`) wraps this module in a
//! TypeScript facade with `runJob` and `fetchTransport`; use that rather than
//! this crate directly.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub)]

// Only in a module without the core's own decoders, and only on wasm32,
// where the JavaScript that lends them exists.
#[cfg(all(target_arch = "wasm32", not(feature = "charsets")))]
mod charsets;
mod convert;
mod integrity;
mod job;
// Only in the simulator module (`reportflow/sim`); see Cargo.toml.
#[cfg(feature = "sim")]
mod sim;

pub use integrity::{crc32, gunzip, md5_base64, md5_hex, DecoderStream, GunzipStream};
pub use job::Job;
#[cfg(feature = "sim")]
pub use sim::{
    sim_credentials, sim_faults, sim_merchant_key_pem, sim_providers, sim_sample_spec, Sandbox,
};

use wasm_bindgen::prelude::*;

/// The version of this build (the crate version, shared by the workspace).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

// The TypeScript shapes of the control data, declared once, next to the Rust
// types they mirror (core/src/action.rs, http.rs, error.rs, job.rs and the
// provider configs). The facade in bindings/src imports them from the
// generated .d.ts, so `switch (action.type)` is checked for exhaustiveness.
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Milliseconds since the Unix epoch (`Date.now()`); a non-negative integer. */
export type Millis = number;

/** The providers reportflow speaks to. */
export type Provider =
  | "amazon-ads" | "lingxing" | "yandex-market" | "amazon-mws" | "amazon-pay" | "amazon-sp-api"
  | "amazon-ads-v3";

/** Who has to act to fix a failure. */
export type Blame = "provider" | "network" | "config" | "data" | "host" | "library";

/** Stable error codes: a job's terminal failures, then host misuse. */
export type ErrorCode =
  | "rejected" | "unexpected_status" | "malformed_response" | "response_too_large"
  | "report_too_large" | "gzip" | "md5_mismatch" | "records" | "zip" | "report_failed"
  | "transport" | "retries_exhausted" | "report_may_exist" | "deadline_exceeded" | "cancelled"
  | "stale_request" | "stale_signature" | "out_of_order" | "backpressure" | "finished" | "invalid_input" | "invalid_config"
  | "credentials_mismatch" | "unsupported_snapshot" | "malformed_snapshot" | "snapshot_mismatch"
  | "not_initialised" | "internal";

/** Every error reportflow reports, thrown or as data. */
export interface ErrorPayload {
  code: ErrorCode;
  blame: Blame;
  /** Whether running (or restoring) the job again may succeed unchanged. */
  retryable: boolean;
  message: string;
  /** The Rust error in its serde form (for logs and diagnostics). */
  details: unknown;
}

export type Method = "GET" | "POST" | "PUT" | "DELETE";

/** A complete HTTP request: the transport adds nothing but bytes on a wire. */
export interface HttpRequest {
  /** Feed the answer back with this id. */
  id: number;
  method: Method;
  /** Absolute URL, already percent-encoded. */
  url: string;
  /** Headers in order. May carry credentials: never log them. */
  headers: [string, string][];
  body: Uint8Array | null;
  limits: { maxHeaderBytes: number; maxBodyBytes: number };
  /** Abort the exchange after this long. */
  timeoutMs: number;
  /** Past this instant, do not send: report `"expired"`. */
  sendBefore: Millis | null;
  /**
   * `"manual"`: do not follow redirects, hand the 3xx head to the job; a
   * host that cannot avoid following (browser fetch) may follow, since it
   * drops credentials across origins, and the job accepts the final answer.
   */
  redirect: "follow" | "manual";
  /**
   * The operation as method and path template (`"GET /v2/reports/{reportId}"`):
   * the key, with provider and account, of a rate budget shared by jobs.
   */
  endpoint: string;
}

/** Why a transport could not complete an exchange. */
export type TransportFailure =
  | "dns" | "connect" | "tls" | "reset" | "timeout" | "aborted" | "expired"
  | { other: string };

/** Why a job waits. Diagnostic only. */
export type WaitReason =
  | { type: "pollBackoff" }
  | { type: "retryBackoff" }
  | { type: "rateLimit"; bucket: string }
  | { type: "awaitingResponse"; id: number }
  | { type: "deferred" }
  | { type: "awaitingSignature"; id: number };

/**
 * How to sign: RSASSA-PSS with SHA-256 (digest and MGF1) and a salt of
 * `saltLength` bytes. WebCrypto: import the key for
 * `{ name: "RSA-PSS", hash: "SHA-256" }` and call
 * `crypto.subtle.sign({ name: "RSA-PSS", saltLength }, key, message)`.
 */
export type SignatureAlgorithm = { name: "rsaPssSha256"; saltLength: number };

/**
 * A signing request (`sign` action). The job never holds private keys: sign
 * the UTF-8 bytes of `message` with the key `keyId` names (a KMS, an HSM,
 * WebCrypto), and feed the raw signature with `job.handleSignature(now, id,
 * bytes)` before `signBefore`. The signed request then comes as a `send`.
 * A late signature, or one for another id, throws `stale_signature`; the job
 * asks again with a fresh request.
 */
export interface SignRequest {
  id: number;
  keyId: string;
  algorithm: SignatureAlgorithm;
  /** The exact text to sign (not a secret: hashes and public header values). */
  message: string;
  signBefore: Millis;
}

export type Phase = "authorizing" | "creating" | "polling" | "resolvingLink" | "downloading" | "finished";

/** Progress and data while a job runs. `data` is provisional until `done`. */
export type ReportEvent =
  | { type: "phaseChanged"; from: Phase; to: Phase }
  | { type: "reportCreated"; reportId: string }
  | { type: "reportStatus"; status: string }
  | { type: "linkObtained"; expiresAt: Millis | null }
  /** `part` names the file inside a multi-part report (a ZIP of CSVs), else null. */
  | { type: "data"; offset: number; bytes: Uint8Array; part: string | null }
  | { type: "dataReset"; cause: ErrorCode }
  | { type: "progress"; bytesIn: number; bytesOut: number; bytesTotal: number | null }
  | { type: "retrying"; attempt: number; afterMs: number; cause: ErrorCode }
  | { type: "throttled"; bucket: string; until: Millis };

/** What `done` reports: a complete, verified report. */
export interface Summary {
  provider: Provider;
  reportId: string;
  outcome: "complete" | "noData";
  /** Media type of the decoded bytes. */
  contentType: string;
  /** How the decoded bytes split into rows. */
  recordFormat: "json_array" | "tsv" | "csv" | "opaque";
  /** Bytes as transferred. */
  rawBytes: number;
  /** Decoded bytes delivered through `data` events. */
  bytes: number;
  /** Lowercase hex MD5 of the bytes as transferred; "" when not computed. */
  md5: string;
  /**
   * "verified": equal to the digest the provider published; "computed": a
   * fingerprint (no published digest); "skipped": not computed
   * (`JobConfig.md5Fingerprint` false and nothing to verify).
   */
  md5Check: "verified" | "computed" | "skipped";
  gzip: boolean;
  rows: number;
  requests: number;
  /** The parts of a multi-part report, in order (absent for single-file reports). */
  parts?: { name: string; bytes: number; rows: number }[];
  /** What a verified report lacks (absent when nothing): show these to the user. */
  warnings?: Warning[];
}

/**
 * Something a verified report lacks. `partialReport`: the provider built the
 * report without part of what the request named (Yandex `DONE` with sub-status
 * `RESOURCE_NOT_FOUND` and a file); `status` is the provider's, verbatim, and
 * `missing` names the missing part as precisely as the provider says.
 */
export type Warning = { type: "partialReport"; status: string; missing: string };

/** The next thing the host must do. */
export type Action =
  | { type: "send"; request: HttpRequest }
  | { type: "sign"; request: SignRequest }
  | { type: "wait"; until: Millis; reason: WaitReason }
  | { type: "event"; event: ReportEvent }
  | { type: "done"; summary: Summary }
  | { type: "failed"; error: ErrorPayload };

/** An Amazon Ads Sponsored Display v2 report. */
export interface AmazonAdsSpec {
  provider: "amazon-ads";
  region: "na" | "eu" | "fe";
  /** Decimal advertising profile id. */
  profileId: string;
  recordType: "campaigns" | "adGroups" | "productAds" | "targets" | "asins";
  /** `YYYYMMDD` */
  reportDate: string;
  tactic: "T00020" | "T00030";
  segment?: "matchedTarget" | null;
  metrics: string[];
}

/**
 * An Amazon Ads Reporting v3 report (`POST /reporting/reports`, format
 * `GZIP_JSON`). The report type fixes `adProduct`, the allowed `groupBy`
 * values, columns and filters (checked for Sponsored Display) and the
 * longest range one report may cover (31 days for most types): a longer
 * range is refused before any request.
 */
export interface AmazonAdsV3Spec {
  provider: "amazon-ads-v3";
  region: "na" | "eu" | "fe";
  /** Decimal advertising profile id. */
  profileId: string;
  /** e.g. `sdCampaigns`, `sdAdGroup`, `sdTargeting`, `sdAdvertisedProduct`, `sdPurchasedProduct`, `sdGrossAndInvalids`. */
  reportTypeId: string;
  groupBy: string[];
  columns: string[];
  timeUnit: "DAILY" | "SUMMARY";
  /** `YYYY-MM-DD` */
  startDate: string;
  /** `YYYY-MM-DD`, included. */
  endDate: string;
  filters?: { field: string; values: string[] }[];
  name?: string | null;
}

/** A Lingxing report-export task (an Amazon SP-API report through Lingxing). */
export interface LingxingSpec {
  provider: "lingxing";
  region: "na" | "eu" | "fe";
  /** Lingxing's seller_id of the shop (the Amazon seller id). */
  sellerId: string;
  /** Amazon SP-API report type, e.g. `GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL`. */
  reportType: string;
  marketplaceIds: string[];
  /** ISO 8601 */
  dataStartTime?: string | null;
  /** ISO 8601 */
  dataEndTime?: string | null;
  reportOptions?: Record<string, string>;
  recordFormat?: "json_array" | "tsv" | "csv" | "opaque" | null;
}

/** A Yandex Market Partner API report (`POST /v2/reports/.../generate`). */
export interface YandexMarketSpec {
  provider: "yandex-market";
  /** The report kind and its request body, as the API documents them. */
  request: { kind: string; body: Record<string, unknown> };
  format?: "FILE" | "CSV" | "JSON";
  language?: "RU" | "EN";
  sourceType?: string;
  pageFormat?: string;
  pathPrefix?: string;
  generateLimit?: { amount: number; periodMs?: number; [key: string]: unknown };
  /**
   * Body fields sent as given, merged into the generate body (fields the schema
   * allows that `request.body` does not model, e.g. one Yandex added after this
   * release). A name `request.body` already sends is refused (`invalid_config`).
   */
  extraBodyFields?: Record<string, unknown>;
}

/**
 * An Amazon MWS Reports report: one to request (`reportType`, …) or one that
 * exists (`reportId`: GetReport only). Verified against its Content-MD5.
 */
export interface AmazonMwsSpec {
  provider: "amazon-mws";
  /** The MWS endpoint of the seller's marketplace. */
  region: "na" | "ca" | "mx" | "eu" | "ae" | "in" | "jp" | "au" | "fe" | "cn";
  /** e.g. `_GET_MERCHANT_LISTINGS_DATA_`; empty with `reportId`. */
  reportType?: string;
  /** ISO 8601 */
  startDate?: string | null;
  /** ISO 8601 */
  endDate?: string | null;
  /** Amazon's `key=value;key=value` form, e.g. `ShowSalesChannel=true`. */
  reportOptions?: string | null;
  /** MarketplaceIdList (not sent in Japan). */
  marketplaceIds?: string[];
  /** An existing report (a GeneratedReportId, a scheduled report): downloaded only. */
  reportId?: string | null;
  /** Accept a report without Content-MD5 (unverified). */
  acceptUnverified?: boolean;
  recordFormat?: "json_array" | "tsv" | "csv" | "opaque" | null;
}

/**
 * An Amazon Pay API v2 job, every call signed by the host: by default a report
 * (`POST /v2/reports`); `task` finds one instead or manages report schedules.
 */
export interface AmazonPaySpec {
  provider: "amazon-pay";
  region?: "na" | "eu" | "jp";
  /** Public key id from Seller Central; `LIVE-`/`SANDBOX-` ids use the `/v2` base path. */
  publicKeyId: string;
  /** For a legacy key id: the sandbox instead of production. */
  sandbox?: boolean;
  /**
   * e.g. `_GET_FLAT_FILE_OFFAMAZONPAYMENTS_SETTLEMENT_DATA_`: the report to create or
   * find, the schedule's type; a schedule list's filter (omit for all); omitted for
   * `getSchedule`/`cancelSchedule`.
   */
  reportType?: string;
  /** ISO 8601 UTC, basic (`20221114T074550Z`) or extended (`createReport` only). */
  startTime?: string;
  endTime?: string;
  algorithm?: "AMZN-PAY-RSASSA-PSS-V2" | "AMZN-PAY-RSASSA-PSS";
  /** What the job does (default `{kind: "createReport"}`). */
  task?: AmazonPayTask;
}

/** A Selling Partner API report (Reports 2021-06-30), with Login-with-Amazon credentials. */
export interface AmazonSpApiSpec {
  provider: "amazon-sp-api";
  /** The seller's region: its endpoint `sellingpartnerapi-{na,eu,fe}.amazon.com`. */
  region: "na" | "eu" | "fe";
  /** e.g. `GET_MERCHANT_LISTINGS_ALL_DATA` */
  reportType: string;
  /** 1 to 25 marketplace ids (or country codes) of the region. */
  marketplaceIds: string[];
  /** ISO 8601 date-times, e.g. `2024-03-01T00:00:00Z`. */
  dataStartTime?: string | null;
  dataEndTime?: string | null;
  /** `reportOptions`, sent as given. */
  reportOptions?: Record<string, string>;
  /** Continue a matching report created in the last day instead of creating one. */
  adoptExisting?: boolean;
}

/**
 * An Amazon Pay job's task. A schedule task's `data` is a JSON array of Amazon's
 * `ReportSchedule` objects (`{reportScheduleId, reportType, scheduleFrequency,
 * nextReportCreationTime}`); ensure and create emit `reportStatus` events
 * `unchanged` / `created` / `replaced`. A find with nothing new ends `done` with
 * `outcome: "noData"`.
 */
export type AmazonPayTask =
  | { kind: "createReport" }
  | { kind: "findReport"; createdSince: string; delivered?: string[] }
  | { kind: "listSchedules" }
  | { kind: "getSchedule"; scheduleId: string }
  | { kind: "createSchedule"; frequency: AmazonPayFrequency; nextCreationTime?: string; deleteExisting?: boolean }
  | { kind: "cancelSchedule"; scheduleId: string }
  | { kind: "ensureSchedule"; frequency: AmazonPayFrequency; nextCreationTime?: string };

/** The schedule frequencies Amazon Pay documents (ISO 8601 durations). */
export type AmazonPayFrequency =
  | "PT5M" | "PT15M" | "PT30M" | "PT1H" | "PT2H" | "PT4H" | "PT8H" | "PT12H" | "PT24H" | "PT84H"
  | "P1D" | "P2D" | "P3D" | "P7D" | "P14D" | "P15D" | "P18D" | "P30D";

/** Which report to fetch, and from which provider. */
export type JobSpec =
  | AmazonAdsSpec | LingxingSpec | YandexMarketSpec | AmazonMwsSpec | AmazonPaySpec
  | AmazonSpApiSpec | AmazonAdsV3Spec;

/** Login-with-Amazon credentials. */
export interface AmazonAdsCredentials {
  provider: "amazon-ads";
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  accessToken?: string | null;
  accessTokenExpiresAt?: Millis | null;
}

/** Login-with-Amazon credentials, as for `amazon-ads`. */
export interface AmazonAdsV3Credentials extends Omit<AmazonAdsCredentials, "provider"> {
  provider: "amazon-ads-v3";
}

/** A Lingxing app's AppID and AppSecret (and optionally current tokens). */
export interface LingxingCredentials {
  provider: "lingxing";
  appId: string;
  appSecret: string;
  accessToken?: string | null;
  refreshToken?: string | null;
  accessTokenExpiresAt?: Millis | null;
}

/** A Yandex Market Api-Key or OAuth token (one of the two). */
export interface YandexMarketCredentials {
  provider: "yandex-market";
  apiKey?: string | null;
  oauthToken?: string | null;
}

/** MWS keys: every request is signed (SigV2, HmacSHA256) with the secret key. */
export interface AmazonMwsCredentials {
  provider: "amazon-mws";
  accessKeyId: string;
  secretKey: string;
  sellerId: string;
  /** For a developer acting for another seller. */
  mwsAuthToken?: string | null;
}

/** Amazon Pay: no credentials; the host signs each `sign` action. */
export interface AmazonPayCredentials {
  provider: "amazon-pay";
}

/** Login-with-Amazon credentials of an SP-API application and seller. */
export interface AmazonSpApiCredentials {
  provider: "amazon-sp-api";
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  accessToken?: string | null;
  accessTokenExpiresAt?: Millis | null;
}

export type Credentials =
  | AmazonAdsCredentials | LingxingCredentials | YandexMarketCredentials | AmazonMwsCredentials
  | AmazonPayCredentials | AmazonSpApiCredentials | AmazonAdsV3Credentials;

/** How a job behaves; every field is optional. */
export interface JobConfig {
  /** Replaces the provider's API origin, e.g. a simulator's `http://127.0.0.1:8080/amazon-ads`. */
  baseUrl?: string | null;
  /** Replaces the provider's auth origin (token endpoints). */
  authBaseUrl?: string | null;
  seed?: number;
  deadlineMs?: number;
  requestTimeoutMs?: number;
  downloadTimeoutMs?: number;
  retry?: Record<string, unknown>;
  poll?: Record<string, unknown>;
  /**
   * Byte limits of a report, and the most a gzip body may inflate per
   * compressed byte (`maxRatio`, 250) once `ratioGraceBytes` (1 MiB) were decoded.
   */
  reportLimits?: { maxCompressedBytes?: number; maxDecompressedBytes?: number; maxRatio?: number; ratioGraceBytes?: number };
  maxApiBodyBytes?: number;
  /** Response header bytes: names and values plus 32 per header. */
  maxHeaderBytes?: number;
  maxLinkRefreshes?: number;
  /**
   * When a report-creating request's answer is lost, create again although
   * the provider may then hold two reports (default false: `report_may_exist`).
   */
  allowDuplicateReports?: boolean;
  /** Largest `data` chunk: 1 to 16 MiB. */
  dataChunkBytes?: number;
  /** Compute the MD5 when no published digest is to be verified (default true). */
  md5Fingerprint?: boolean;
}

/** Options of an in-process simulator sandbox. */
export interface SandboxOptions {
  /** Origin of the simulated APIs (status locations use it). */
  baseUrl?: string;
  /** Origin of the download host the report links point at (another origin, as in production). */
  downloadBaseUrl?: string;
  seed?: number;
  /** Faults as the CLI's `--fault` takes them, e.g. `"throttle:2,corrupt-body:always"`. */
  faults?: string;
  /** How long a report takes to generate, in ms. */
  generationMs?: number;
  rows?: number;
}

/** A request to a sandbox; a `send` action's request fits. */
export interface SimRequest {
  method: Method;
  url: string;
  headers?: [string, string][];
  body?: Uint8Array | null;
}

/** A sandbox's answer. */
export interface SimResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
  /** When not null, the connection breaks off after this many body bytes. */
  disconnectAfter: number | null;
}

/** One request as a sandbox saw it (no header values, no bodies). */
export interface LoggedRequest {
  at: Millis;
  /** The origin that served it: the API origin or the download host's. */
  origin: string;
  method: Method;
  path: string;
  query: string | null;
  /** Lowercased. */
  headerNames: string[];
  status: number;
  provider: Provider | null;
  fault: string | null;
  /** The operation, where the path does not name it (MWS's `Action`). */
  operation?: string;
  /** Where that operation's parameters came: `"query"` or `"form"`. */
  paramsIn?: string;
}

/** Totals of a gzip stream. */
export interface GunzipStats {
  compressedBytes: number;
  decompressedBytes: number;
  members: number;
  paddingBytes: number;
}
"#;
