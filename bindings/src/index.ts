// reportflow: marketplace report lifecycles as pure state machines, for Node
// and browsers. The entry points (node.ts, browser.ts) load the production
// wasm module and re-export this file. The simulators are a separate entry,
// `reportflow/sim` (sim.ts), with a module of their own.

export { Job } from "./job.js";
export { ReportflowError } from "./errors.js";
export { runJob, webCryptoSigner, type RunOptions, type Signer } from "./driver.js";
export {
  fetchTransport,
  classifyFailure,
  TransportError,
  type Transport,
  type TransportResponse,
  type FetchTransportOptions,
} from "./transport.js";
export { gunzip, Gunzip, Decoder, md5Hex, md5Base64, crc32, type DecoderOptions } from "./integrity.js";
export { init, initSync, isInitialised } from "./init.js";
export type {
  Action,
  AmazonAdsCredentials,
  AmazonAdsSpec,
  AmazonPayCredentials,
  AmazonPaySpec,
  AmazonPayTask,
  AmazonPayFrequency,
  LingxingCredentials,
  LingxingSpec,
  YandexMarketCredentials,
  YandexMarketSpec,
  Blame,
  Credentials,
  DecodeStats,
  ErrorCode,
  ErrorPayload,
  GunzipStats,
  HttpRequest,
  JobConfig,
  JobSpec,
  Method,
  Millis,
  Phase,
  Provider,
  ReportEvent,
  ReportEvent as Event,
  SignatureAlgorithm,
  SignRequest,
  Summary,
  TransportFailure,
  WaitReason,
  Warning,
} from "../wasm/reportflow_wasm.js";
