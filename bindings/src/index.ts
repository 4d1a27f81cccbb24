// reportflow: marketplace report lifecycles as pure state machines, for Node
// and browsers. The entry points (node.ts, browser.ts) load the wasm module
// and re-export this file.

export { Job } from "./job.js";
export { ReportflowError } from "./errors.js";
export { runJob, type RunOptions } from "./driver.js";
export {
  fetchTransport,
  classifyFailure,
  TransportError,
  type Transport,
  type TransportResponse,
  type FetchTransportOptions,
} from "./transport.js";
export { gunzip, Gunzip, md5Hex, md5Base64, crc32 } from "./integrity.js";
export { Sandbox, sandboxTransport, simProviders, simCredentials, simSampleSpec, simFaults } from "./sim.js";
export { init, initSync, isInitialised } from "./init.js";
export type {
  Action,
  AmazonAdsCredentials,
  AmazonAdsSpec,
  LingxingCredentials,
  LingxingSpec,
  YandexMarketCredentials,
  YandexMarketSpec,
  Blame,
  Credentials,
  ErrorCode,
  ErrorPayload,
  GunzipStats,
  HttpRequest,
  JobConfig,
  JobSpec,
  LoggedRequest,
  Method,
  Millis,
  Phase,
  Provider,
  ReportEvent,
  ReportEvent as Event,
  SandboxOptions,
  SimRequest,
  SimResponse,
  Summary,
  TransportFailure,
  WaitReason,
  Warning,
} from "../wasm/reportflow_wasm.js";
