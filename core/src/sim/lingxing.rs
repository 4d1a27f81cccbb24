//! Lingxing OpenAPI simulator (Amazon report export), under the `/lingxing`
//! prefix.
//!
//! | request | answer |
//! |---|---|
//! | `POST /api/auth-server/oauth/access-token` (multipart `appId`, `appSecret`) | `{"code":"200","msg":"OK","data":{access_token, refresh_token, expires_in: 7199}}`; `2001001` unknown app, `2001002` wrong secret |
//! | `POST /api/auth-server/oauth/refresh` (multipart `appId`, `refreshToken`) | a new pair; each refresh token works once (`2001009` on reuse or unknown, `2001008` after 2 hours), and the access token issued with it is replaced: from then on it gets `2001005` "access token not match" |
//! | `POST /basicOpen/report/create/reportExportTask` | gateway checks (below), then the body as the docs describe it (`102` when invalid); `task_id` |
//! | `POST /basicOpen/report/query/reportExportTask` | business `102` unless `seller_id` and `region` are the task's creator's; else `IN_QUEUE` for the first half of `generation_ms`, `IN_PROGRESS` until it ends, then `DONE` with a fresh 5-minute `url`, `report_document_id` and `compression_algorithm` `GZIP` (or `null` for a plain document); `FATAL`/`CANCELLED` with every field `null` |
//! | `POST /basicOpen/report/amazonReportExportTask` | a fresh 5-minute `url` for a `report_document_id` of a task of that `seller_id` and `region` (else business `102`) |
//! | `GET /_amazon/{documentId}?X-Amz-…` | the presigned document host: `400` with any `Authorization` header or Lingxing query parameter, `403 SignatureDoesNotMatch` for a tampered link, `403 AccessDenied` "Request has expired" after 5 minutes; else the document |
//!
//! Gateway checks on every report call, in order: the four query
//! parameters (`3001001`), `app_key` (`2001001`), the access token
//! (`2001005` when a refresh replaced it, `2001003` when unknown, expired
//! or revoked), the timestamp within 2 minutes
//! of `now` (`2001007`), the sign re-derived from the JSON body and the query
//! with the AppID as key (`2001006`), and the endpoint's capacity-1 bucket
//! (`3001008`). Business answers use the int-`code` envelope, gateway and
//! token answers the string-`code` one, all on HTTP 200.
//!
//! Faults (see [`Fault`]): `throttle` answers `3001008`
//! (odd firings) or business `103` (even firings); `server-error` answers
//! business code `1` (odd) or an nginx `502` HTML page (even);
//! `expired-token` revokes every access token and answers `2001003`;
//! `lost-answer` handles the call but drops the connection before the
//! answer, and the endpoint's token stays taken for 2 minutes;
//! `reject-406`/`reject-422` answer `102`; `plain-body` makes the new task's
//! document plain; `report-failure` makes the task `FATAL`, `task-cancelled`
//! `CANCELLED`; the download faults act as on S3. Lingxing publishes no
//! checksum, so `corrupt-body` and `truncated-gzip` leave a plain document
//! alone (nothing could detect them).
//!
//! A document is an Amazon flat file (TSV with a header line) of `rows`
//! rows whose bytes depend only on the sandbox seed and the task's
//! parameters.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::calendar::{amz_date, parse_amz_date};
use super::faults::{Fault, Opportunity};
use super::writers::amazon_flat_file;
use super::{
    decode_segment, encode_segment, s3_error, truncate_body, ProviderSim, SandboxConfig, SimCx,
    SimRequest, SimResponse,
};
use crate::calendar::civil_time;
use crate::http::Method;
use crate::integrity::Md5;
use crate::providers::lingxing::{sign, Credentials, Region, ReportSpec};
use crate::retry::splitmix64;
use crate::secret::Secret;
use crate::sim::gzip_compress;
use crate::time::Millis;
use crate::Provider;
use crate::{Credentials as JobCredentials, JobSpec};

/// The AppID the simulator knows (16 characters: it is the AES key).
pub const APP_ID: &str = "ak_sim0123456789";
/// The AppSecret the simulator accepts. Contains [`CANARY`].
pub const APP_SECRET: &str = "sim-CANARY-app-secret-3c9d7e";
/// The seller id of [`sample_spec`].
pub const SELLER_ID: &str = "A1MQMW3JWPNCBX";
/// The report type of [`sample_spec`].
pub const SAMPLE_REPORT_TYPE: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";
/// Marker inside the AppSecret and every refresh token the simulator
/// issues. Access tokens and signs travel in the query by Lingxing's
/// design, so they carry no marker; search for them by value.
pub const CANARY: &str = "CANARY";
/// Lifetime of an access token, in seconds (the docs' example value).
pub const TOKEN_LIFETIME_S: u64 = 7_199;
/// Lifetime of a refresh token, in seconds.
pub const REFRESH_LIFETIME_S: u64 = 7_200;
/// Lifetime of a download link, in seconds.
pub const LINK_LIFETIME_S: u64 = 300;
/// How far a sign's timestamp may be from `now`, in seconds.
pub const SIGN_WINDOW_S: u64 = 120;
/// How long the gateway holds an endpoint's token for a request whose
/// answer never went out, in ms.
pub const BUCKET_HOLD_MS: u64 = 120_000;

const TOKEN_PATH: &str = "/api/auth-server/oauth/access-token";
const REFRESH_PATH: &str = "/api/auth-server/oauth/refresh";
const CREATE_PATH: &str = "/basicOpen/report/create/reportExportTask";
const QUERY_PATH: &str = "/basicOpen/report/query/reportExportTask";
const RENEW_PATH: &str = "/basicOpen/report/amazonReportExportTask";

/// What each fault answers here, for help texts ([`Fault::answer`]).
/// Lingxing answers API errors with body codes on HTTP 200.
pub const FAULT_ANSWERS: &[(Fault, &str)] = &[
    (Fault::Throttle, "next API call: HTTP 200, gateway code \"3001008\" (odd firings) or business code 103 请求过于频繁 (even)"),
    (Fault::ServerError, "next API call: HTTP 200 business code 1 服务内部错误 (odd firings) or an nginx HTTP 502 HTML page (even)"),
    (Fault::ExpiredToken, "access tokens revoked; next API call: HTTP 200, gateway code \"2001003\" access token is missing or expire"),
    (Fault::LostAnswer, "next API call handled, connection dropped before the answer; the endpoint answers \"3001008\" for 2 minutes"),
    (Fault::Reject406, "next task creation: HTTP 200 business code 102 参数不合法 (date too far in the past)"),
    (Fault::Reject422, "next task creation: HTTP 200 business code 102 参数不合法 (invalid report_options)"),
    (Fault::PlainBody, "next task's document served uncompressed, compression_algorithm null"),
    (Fault::ReportFailure, "next task query: progress_status FATAL (code 0), for good"),
    (Fault::TaskCancelled, "next task query: progress_status CANCELLED (code 0: Amazon had no data)"),
    (Fault::ExpiredLink, "next document download: HTTP 403 AccessDenied \"Request has expired\""),
    (Fault::CorruptBody, "next gzip document: one byte flipped (a plain document is left alone)"),
    (Fault::TruncatedGzip, "next gzip document cut short, delivered as complete (a plain document is left alone)"),
    (Fault::Disconnect, "next document download breaks off half-way through the body"),
];

/// The app's credentials as the simulator knows them.
pub fn provider_credentials() -> Credentials {
    Credentials::new(APP_ID, APP_SECRET)
}

/// [`provider_credentials`] as job credentials, ready for
/// [`ReportJob::new`](crate::ReportJob::new).
pub fn credentials() -> JobCredentials {
    JobCredentials::Lingxing(provider_credentials())
}

/// An all-orders flat file for [`SELLER_ID`] in the US marketplace.
pub fn sample_report_spec() -> ReportSpec {
    ReportSpec::new(Region::Na, SELLER_ID, SAMPLE_REPORT_TYPE, ["ATVPDKIKX0DER"])
}

/// [`sample_report_spec`] as a job spec.
pub fn sample_spec() -> JobSpec {
    JobSpec::Lingxing(sample_report_spec())
}

#[derive(Debug, Clone)]
struct AccessToken {
    expires_at: Millis,
    revoked: bool,
    /// A refresh with the refresh token issued beside it replaced it.
    replaced: bool,
}

#[derive(Debug, Clone)]
struct RefreshToken {
    expires_at: Millis,
    used: bool,
    /// The access token issued with it, which a refresh replaces.
    access: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Normal,
    Fatal,
    Cancelled,
}

#[derive(Debug, Clone)]
struct Task {
    created_at: Millis,
    /// The seller and region that created the task: the only ones that
    /// may query it or renew its links.
    seller_id: String,
    region: String,
    fate: Fate,
    plain: bool,
    document_id: String,
    content: Arc<Content>,
}

struct Content {
    tsv: Vec<u8>,
    gzip: Vec<u8>,
}

impl Task {
    fn owned_by(&self, seller_id: &str, region: &str) -> bool {
        self.seller_id == seller_id && self.region == region
    }
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Content")
            .field("tsv_len", &self.tsv.len())
            .field("gzip_len", &self.gzip.len())
            .finish()
    }
}

/// The Lingxing simulator. Reach it through a [`Sandbox`](super::Sandbox);
/// [`Sandbox::simulator`](super::Sandbox::simulator) gives read access to
/// its state and counters.
#[derive(Debug, Clone)]
pub struct Simulator {
    /// Where the download links point: the sandbox's download host.
    download_origin: String,
    seed: u64,
    rows: u32,
    generation_ms: u64,
    access_tokens: BTreeMap<String, AccessToken>,
    refresh_tokens: BTreeMap<String, RefreshToken>,
    tokens_issued: u64,
    refresh_reuses: u32,
    tasks: BTreeMap<String, Task>,
    task_order: Vec<String>,
    documents: BTreeMap<String, String>,
    contents: BTreeMap<String, Arc<Content>>,
    /// When each report endpoint's only token comes back.
    held: BTreeMap<&'static str, Millis>,
    renewals: u32,
    rejected_signs: u32,
    stale_signs: u32,
    bucket_rejections: u32,
    replaced_tokens_refused: u32,
    foreign_refusals: u32,
}

/// An answer that ends the request, before or instead of the business logic.
type Early = Result<(), SimResponse>;

impl Simulator {
    pub(crate) fn new(config: &SandboxConfig) -> Self {
        Self {
            download_origin: config.download_base_for(Provider::Lingxing),
            seed: config.seed,
            rows: config.rows,
            generation_ms: config.generation_ms,
            access_tokens: BTreeMap::new(),
            refresh_tokens: BTreeMap::new(),
            tokens_issued: 0,
            refresh_reuses: 0,
            tasks: BTreeMap::new(),
            task_order: Vec::new(),
            documents: BTreeMap::new(),
            contents: BTreeMap::new(),
            held: BTreeMap::new(),
            renewals: 0,
            rejected_signs: 0,
            stale_signs: 0,
            bucket_rejections: 0,
            replaced_tokens_refused: 0,
            foreign_refusals: 0,
        }
    }

    /// How many export tasks were created.
    pub fn tasks_created(&self) -> usize {
        self.task_order.len()
    }

    /// Ids of the tasks created, oldest first.
    pub fn task_ids(&self) -> &[String] {
        &self.task_order
    }

    /// How many download links were renewed.
    pub fn renewals(&self) -> u32 {
        self.renewals
    }

    /// How many token pairs were issued (fetches and refreshes).
    pub fn tokens_issued(&self) -> u64 {
        self.tokens_issued
    }

    /// Refresh attempts with a refresh token that had been used before.
    pub fn refresh_reuses(&self) -> u32 {
        self.refresh_reuses
    }

    /// Requests refused with `2001006` (wrong sign).
    pub fn rejected_signs(&self) -> u32 {
        self.rejected_signs
    }

    /// Requests refused with `2001007` (timestamp outside the window).
    pub fn stale_signs(&self) -> u32 {
        self.stale_signs
    }

    /// Requests refused with `3001008` because their endpoint's token was
    /// taken (faults not counted).
    pub fn bucket_rejections(&self) -> u32 {
        self.bucket_rejections
    }

    /// Requests refused with `2001005` because their access token had been
    /// replaced by a refresh.
    pub fn replaced_tokens_refused(&self) -> u32 {
        self.replaced_tokens_refused
    }

    /// Queries and renewals refused because they named a task or document
    /// of another seller or region.
    pub fn foreign_refusals(&self) -> u32 {
        self.foreign_refusals
    }

    /// Every access and refresh token issued, for leak checks.
    pub fn issued_tokens(&self) -> Vec<Secret<String>> {
        self.access_tokens
            .keys()
            .chain(self.refresh_tokens.keys())
            .map(|t| Secret::new(t.clone()))
            .collect()
    }

    fn random(&self, salt: u64) -> u64 {
        splitmix64(self.seed ^ splitmix64(salt))
    }

    fn uuid(&self, salt: u64) -> String {
        let (a, b) = (self.random(salt), self.random(salt ^ 0x5555));
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    // ------------------------------------------------------------ tokens

    fn issue(&mut self, now: Millis) -> SimResponse {
        self.tokens_issued = self.tokens_issued.saturating_add(1);
        let n = self.tokens_issued;
        let access = self.uuid(0x6163_6300 ^ n);
        let refresh = format!("sim-{CANARY}-refresh-{}", self.uuid(0x7265_6600 ^ n));
        self.access_tokens.insert(
            access.clone(),
            AccessToken {
                expires_at: now.saturating_add(TOKEN_LIFETIME_S * 1000),
                revoked: false,
                replaced: false,
            },
        );
        self.refresh_tokens.insert(
            refresh.clone(),
            RefreshToken {
                expires_at: now.saturating_add(REFRESH_LIFETIME_S * 1000),
                used: false,
                access: access.clone(),
            },
        );
        SimResponse::json(
            200,
            &json!({"code": "200", "msg": "OK", "data": {"access_token": access, "refresh_token": refresh, "expires_in": TOKEN_LIFETIME_S}}),
        )
    }

    fn access_token(&mut self, cx: &SimCx<'_>, request: &SimRequest) -> SimResponse {
        let form = form_fields(request);
        if form.get("appId").map(String::as_str) != Some(APP_ID) {
            return gateway_error("2001001", "app not exist", None);
        }
        if form.get("appSecret").map(String::as_str) != Some(APP_SECRET) {
            return gateway_error("2001002", "app secret not correct", None);
        }
        self.issue(cx.now)
    }

    fn refresh(&mut self, cx: &SimCx<'_>, request: &SimRequest) -> SimResponse {
        let form = form_fields(request);
        if form.get("appId").map(String::as_str) != Some(APP_ID) {
            return gateway_error("2001001", "app not exist", None);
        }
        let given = form.get("refreshToken").cloned().unwrap_or_default();
        let replaced = match self.refresh_tokens.get_mut(&given) {
            None => return gateway_error("2001009", "refresh token is invalid", None),
            Some(token) if token.used => {
                self.refresh_reuses = self.refresh_reuses.saturating_add(1);
                return gateway_error("2001009", "refresh token is invalid", None);
            }
            Some(token) if cx.now >= token.expires_at => {
                token.used = true;
                return gateway_error(
                    "2001008",
                    "refresh token expired. please get access token again",
                    None,
                );
            }
            Some(token) => {
                token.used = true;
                token.access.clone()
            }
        };
        // The pair's access token stops working the moment its refresh
        // token is spent: whoever still holds it gets `2001005`.
        if let Some(old) = self.access_tokens.get_mut(&replaced) {
            old.replaced = true;
        }
        self.issue(cx.now)
    }

    // ------------------------------------------------------------ gateway

    /// Faults, query parameters, app, token, timestamp, sign and bucket.
    fn gate(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, endpoint: &'static str) -> Early {
        match cx.fault(Opportunity::ApiCall) {
            Some(Fault::Throttle) if cx.fired(Fault::Throttle) % 2 == 0 => {
                return Err(business_error(
                    cx.now,
                    103,
                    "请求过于频繁,请稍后再试 [SIMULATOR]",
                ));
            }
            Some(Fault::Throttle) => {
                return Err(gateway_error(
                    "3001008",
                    "requests too frequently. please request later.",
                    Some(cx.now),
                ));
            }
            Some(Fault::ServerError) if cx.fired(Fault::ServerError) % 2 == 0 => {
                return Err(SimResponse::bytes(
                    502,
                    "text/html",
                    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n".to_vec(),
                ));
            }
            Some(Fault::ServerError) => return Err(business_error(cx.now, 1, "服务内部错误")),
            Some(Fault::ExpiredToken) => {
                for token in self.access_tokens.values_mut() {
                    token.revoked = true;
                }
            }
            _ => {}
        }
        let param = |name: &str| request.query_param(name).filter(|v| !v.is_empty());
        let (Some(token), Some(app_key), Some(timestamp), Some(signature)) = (
            param("access_token"),
            param("app_key"),
            param("timestamp"),
            param("sign"),
        ) else {
            return Err(gateway_error(
                "3001001",
                "missing query param(access_token,sign,timestamp,app_key)",
                Some(cx.now),
            ));
        };
        if app_key != APP_ID {
            return Err(gateway_error("2001001", "app not exist", Some(cx.now)));
        }
        match self.access_tokens.get(&token) {
            Some(info) if info.replaced => {
                self.replaced_tokens_refused = self.replaced_tokens_refused.saturating_add(1);
                return Err(gateway_error(
                    "2001005",
                    "access token not match",
                    Some(cx.now),
                ));
            }
            Some(info) if !info.revoked && cx.now < info.expires_at => {}
            _ => {
                return Err(gateway_error(
                    "2001003",
                    "access token is missing or expire",
                    Some(cx.now),
                ))
            }
        }
        let fresh = timestamp.len() == 10
            && timestamp
                .parse::<u64>()
                .is_ok_and(|ts| (cx.now.as_u64() / 1000).abs_diff(ts) <= SIGN_WINDOW_S);
        if !fresh {
            self.stale_signs = self.stale_signs.saturating_add(1);
            return Err(gateway_error(
                "2001007",
                "api sign has expired",
                Some(cx.now),
            ));
        }
        let body = match serde_json::from_slice::<Value>(&request.body) {
            Ok(Value::Object(body)) => body,
            _ => Map::new(),
        };
        let common = [
            ("access_token", Value::from(token)),
            ("app_key", Value::from(app_key)),
            ("timestamp", Value::from(timestamp)),
        ];
        let expected = sign::sign(
            APP_ID,
            body.iter()
                .map(|(k, v)| (k.as_str(), v))
                .chain(common.iter().map(|(k, v)| (*k, v))),
        );
        if expected.ok().as_deref() != Some(signature.as_str()) {
            self.rejected_signs = self.rejected_signs.saturating_add(1);
            return Err(gateway_error(
                "2001006",
                " api sign not correct",
                Some(cx.now),
            ));
        }
        // A request takes the endpoint's only token on arrival and returns it
        // when its answer goes out, which here is at once, unless an earlier
        // answer never went out (`lost-answer`).
        if self.held.get(endpoint).is_some_and(|until| cx.now < *until) {
            self.bucket_rejections = self.bucket_rejections.saturating_add(1);
            return Err(gateway_error(
                "3001008",
                "requests too frequently. please request later.",
                Some(cx.now),
            ));
        }
        Ok(())
    }

    // ------------------------------------------------------------ report calls

    fn create(&mut self, cx: &mut SimCx<'_>, request: &SimRequest) -> SimResponse {
        if let Err(response) = self.gate(cx, request, CREATE_PATH) {
            return response;
        }
        let body = match serde_json::from_slice::<Value>(&request.body) {
            Ok(Value::Object(body)) => body,
            _ => return business_error(cx.now, 102, "参数不合法: body must be a JSON object"),
        };
        let text = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let (Some(seller_id), Some(report_type), Some(region)) =
            (text("seller_id"), text("report_type"), text("region"))
        else {
            return business_error(
                cx.now,
                102,
                "参数不合法: seller_id, report_type and region are required strings",
            );
        };
        let Ok(region_parsed) = Region::parse(region) else {
            return business_error(cx.now, 102, "参数不合法: region must be na, eu or fe");
        };
        if region != region_parsed.as_str() || !report_type.starts_with("GET_") {
            return business_error(cx.now, 102, "参数不合法: region or report_type");
        }
        let marketplaces: Vec<&str> = match body.get("marketplace_ids") {
            Some(Value::Array(ids)) if !ids.is_empty() => {
                ids.iter().filter_map(Value::as_str).collect()
            }
            Some(Value::String(_)) => {
                return business_error(
                    cx.now,
                    102,
                    "参数不合法: marketplace_ids must be an array, not a string",
                )
            }
            _ => return business_error(cx.now, 102, "参数不合法: marketplace_ids is required"),
        };
        if marketplaces.len()
            != body
                .get("marketplace_ids")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
            || marketplaces.iter().any(|id| {
                !region_parsed
                    .marketplaces()
                    .iter()
                    .any(|(_, known)| known == id)
            })
        {
            return business_error(
                cx.now,
                102,
                "参数不合法: marketplace_ids must be marketplaces of the region",
            );
        }
        for field in ["data_start_time", "data_end_time"] {
            if body.get(field).is_some_and(|v| !v.is_string()) {
                return business_error(
                    cx.now,
                    102,
                    &format!("参数不合法: {field} must be a string"),
                );
            }
        }
        if body.get("report_options").is_some_and(|v| !v.is_object()) {
            return business_error(cx.now, 102, "参数不合法: report_options must be an object");
        }
        let mut plain = false;
        match cx.fault(Opportunity::Create) {
            Some(Fault::Reject406) => {
                return business_error(
                    cx.now,
                    102,
                    "参数不合法: data_start_time is too far in the past",
                )
            }
            Some(Fault::Reject422) => {
                return business_error(
                    cx.now,
                    102,
                    "参数不合法: report_options are not valid for this report type",
                )
            }
            Some(Fault::PlainBody) => plain = true,
            _ => {}
        }
        let options = body
            .get("report_options")
            .map(|v| sign::compact_json(v).unwrap_or_default())
            .unwrap_or_default();
        let key = format!(
            "{seller_id}|{report_type}|{region}|{}|{}|{}|{options}",
            marketplaces.join(","),
            text("data_start_time").unwrap_or_default(),
            text("data_end_time").unwrap_or_default()
        );
        let content = match self.contents.get(&key) {
            Some(content) => Arc::clone(content),
            None => {
                let tsv = amazon_flat_file(self.seed, &key, report_type, self.rows);
                let gzip = gzip_compress(&tsv, 6);
                let content = Arc::new(Content { tsv, gzip });
                self.contents.insert(key, Arc::clone(&content));
                content
            }
        };
        let n = self.task_order.len() as u64 + 1;
        let task_id = self.uuid(0x7461_736b ^ n);
        let document_id = format!(
            "amzn1.spdoc.1.4.{region}.{}.T{:013X}.2651",
            self.uuid(0x646f_6300 ^ n),
            self.random(0x7400 ^ n) & 0x000f_ffff_ffff_ffff
        );
        self.documents.insert(document_id.clone(), task_id.clone());
        self.tasks.insert(
            task_id.clone(),
            Task {
                created_at: cx.now,
                seller_id: seller_id.to_owned(),
                region: region.to_owned(),
                fate: Fate::Normal,
                plain,
                document_id,
                content,
            },
        );
        self.task_order.push(task_id.clone());
        business_ok(cx.now, json!({ "task_id": task_id }))
    }

    fn query(&mut self, cx: &mut SimCx<'_>, request: &SimRequest) -> SimResponse {
        if let Err(response) = self.gate(cx, request, QUERY_PATH) {
            return response;
        }
        let body = serde_json::from_slice::<Value>(&request.body).unwrap_or(Value::Null);
        let text = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (task_id, seller_id, region) = (text("task_id"), text("seller_id"), text("region"));
        let (generation_ms, origin, seed) =
            (self.generation_ms, self.download_origin.clone(), self.seed);
        let Some(task) = self.tasks.get_mut(&task_id) else {
            return business_error(cx.now, 102, "参数不合法: task_id does not exist");
        };
        if !task.owned_by(&seller_id, &region) {
            self.foreign_refusals = self.foreign_refusals.saturating_add(1);
            return foreign(cx.now, "task_id");
        }
        match cx.fault(Opportunity::StatusPoll) {
            Some(Fault::ReportFailure) => task.fate = Fate::Fatal,
            Some(Fault::TaskCancelled) => task.fate = Fate::Cancelled,
            _ => {}
        }
        let empty = |status: &str| json!({"report_document_id": null, "progress_status": status, "compression_algorithm": null, "url": null});
        let data = match task.fate {
            Fate::Fatal => empty("FATAL"),
            Fate::Cancelled => empty("CANCELLED"),
            Fate::Normal if cx.now < task.created_at.saturating_add(generation_ms / 2) => {
                empty("IN_QUEUE")
            }
            Fate::Normal if cx.now < task.created_at.saturating_add(generation_ms) => {
                empty("IN_PROGRESS")
            }
            Fate::Normal => json!({
                "report_document_id": task.document_id,
                "progress_status": "DONE",
                "compression_algorithm": if task.plain { Value::Null } else { Value::from("GZIP") },
                "url": link(&origin, seed, &task.document_id, cx.now),
            }),
        };
        business_ok(cx.now, data)
    }

    fn renew(&mut self, cx: &mut SimCx<'_>, request: &SimRequest) -> SimResponse {
        if let Err(response) = self.gate(cx, request, RENEW_PATH) {
            return response;
        }
        let body = serde_json::from_slice::<Value>(&request.body).unwrap_or(Value::Null);
        let text = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (document_id, seller_id, region) = (
            text("report_document_id"),
            text("seller_id"),
            text("region"),
        );
        let task = self
            .documents
            .get(&document_id)
            .and_then(|task| self.tasks.get(task));
        if task.is_some_and(|task| !task.owned_by(&seller_id, &region)) {
            self.foreign_refusals = self.foreign_refusals.saturating_add(1);
            return foreign(cx.now, "report_document_id");
        }
        match task.is_some_and(|task| task.fate == Fate::Normal) {
            true => {
                self.renewals = self.renewals.saturating_add(1);
                let url = link(&self.download_origin, self.seed, &document_id, cx.now);
                business_ok(
                    cx.now,
                    json!({ "url": url, "report_document_id": document_id }),
                )
            }
            false => business_error(
                cx.now,
                102,
                "参数不合法: report_document_id does not exist in this region",
            ),
        }
    }

    fn document(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, object: &str) -> SimResponse {
        if request.header("authorization").is_some()
            || ["access_token", "sign", "app_key"]
                .iter()
                .any(|p| request.query_param(p).is_some())
        {
            return s3_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; the link is presigned",
                "",
            );
        }
        let document_id = decode_segment(object);
        let Some(task) = self
            .documents
            .get(&document_id)
            .and_then(|task| self.tasks.get(task))
        else {
            return s3_error(404, "NoSuchKey", "The specified key does not exist.", "");
        };
        let date = request.query_param("X-Amz-Date").unwrap_or_default();
        let expires = request
            .query_param("X-Amz-Expires")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let signed = request.query_param("X-Amz-Signature").unwrap_or_default();
        let Some(issued) = parse_amz_date(&date) else {
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                "",
            );
        };
        if expires != LINK_LIFETIME_S || signed != signature(self.seed, &document_id, &date) {
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                "",
            );
        }
        let expires_at = issued.saturating_add(expires.saturating_mul(1000));
        let expired = || {
            s3_error(
                403,
                "AccessDenied",
                "Request has expired",
                &format!("<X-Amz-Expires>{expires}</X-Amz-Expires>"),
            )
        };
        if cx.now > expires_at {
            return expired();
        }
        let plain = task.plain;
        let mut body = if plain {
            task.content.tsv.clone()
        } else {
            task.content.gzip.clone()
        };
        let mut disconnect_after = None;
        match cx.fault(Opportunity::Download) {
            Some(Fault::ExpiredLink) => return expired(),
            Some(Fault::CorruptBody) if !plain => {
                // Past the 10-byte header, whose MTIME/XFL/OS bytes no check covers.
                let span = body.len().saturating_sub(10).max(1) as u64;
                let at = 10 + (self.random(cx.corruption_salt()) % span) as usize;
                if let Some(byte) = body.get_mut(at) {
                    *byte ^= 0xff;
                }
            }
            Some(Fault::TruncatedGzip) if !plain => {
                truncate_body(&mut body);
            }
            Some(Fault::Disconnect) => disconnect_after = Some(body.len() / 2),
            _ => {}
        }
        let content_type = if plain {
            "text/tab-separated-values"
        } else {
            "application/octet-stream"
        };
        let mut response = SimResponse::bytes(200, content_type, body);
        response.disconnect_after = disconnect_after;
        response
    }
}

impl ProviderSim for Simulator {
    fn provider(&self) -> Provider {
        Provider::Lingxing
    }

    fn handle(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, path: &str) -> SimResponse {
        let (endpoint, mut response) = match (request.method, path) {
            (Method::Post, TOKEN_PATH) => return self.access_token(cx, request),
            (Method::Post, REFRESH_PATH) => return self.refresh(cx, request),
            (Method::Post, CREATE_PATH) => (CREATE_PATH, self.create(cx, request)),
            (Method::Post, QUERY_PATH) => (QUERY_PATH, self.query(cx, request)),
            (Method::Post, RENEW_PATH) => (RENEW_PATH, self.renew(cx, request)),
            (Method::Get, _) if path.starts_with("/_amazon/") => {
                return self.document(cx, request, path.trim_start_matches("/_amazon/"));
            }
            _ => return business_error(cx.now, 400, "服务不存在"),
        };
        if cx.fired == Some(Fault::LostAnswer) {
            // Handled, but the connection drops before the answer goes out:
            // the gateway holds the endpoint's token until its timeout.
            self.held
                .insert(endpoint, cx.now.saturating_add(BUCKET_HOLD_MS));
            response.disconnect_after = Some(0);
        }
        response
    }

    fn fault_answers(&self) -> &'static [(Fault, &'static str)] {
        FAULT_ANSWERS
    }

    fn download_prefix(&self) -> &'static str {
        "/_amazon/"
    }

    fn report_content(&self, report_id: &str) -> Option<Vec<u8>> {
        let task = self.tasks.get(report_id)?;
        Some(if task.fate == Fate::Cancelled {
            Vec::new()
        } else {
            task.content.tsv.clone()
        })
    }

    fn quota_violations(&self) -> u32 {
        self.bucket_rejections
    }

    fn box_clone(&self) -> Box<dyn ProviderSim> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A presigned link to a document, valid [`LINK_LIFETIME_S`] from `now`.
fn link(origin: &str, seed: u64, document_id: &str, now: Millis) -> String {
    let date = amz_date(now);
    format!(
        "{origin}/_amazon/{}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={date}&X-Amz-Expires={LINK_LIFETIME_S}&X-Amz-SignedHeaders=host&X-Amz-Signature={}",
        encode_segment(document_id),
        signature(seed, document_id, &date)
    )
}

fn signature(seed: u64, document_id: &str, date: &str) -> String {
    let text = format!("{seed}\n{document_id}\n{date}\n{LINK_LIFETIME_S}");
    let first = Md5::digest(text.as_bytes()).to_hex();
    first.clone() + &Md5::digest(format!("{first}{text}").as_bytes()).to_hex()
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for `response_time` and `throwTime`.
fn wall_time(now: Millis) -> String {
    let at = civil_time(now);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year, at.month, at.day, at.hour, at.minute, at.second
    )
}

fn business_ok(now: Millis, data: Value) -> SimResponse {
    SimResponse::json(
        200,
        &json!({
            "code": 0,
            "message": "success",
            "error_details": [],
            "request_id": format!("{:032x}.{}", splitmix64(now.as_u64()), now.as_u64()),
            "response_time": wall_time(now),
            "data": data,
            "total": 0,
        }),
    )
}

/// The answer to a query or renewal naming a task (or its document) that
/// another seller or region created. Lingxing's docs do not say what the
/// gateway answers here; tasks are looked up per seller and region (every
/// call names both), so the simulator answers as for an id that does not
/// exist: business `102` 参数不合法 ("invalid parameter"), which a client
/// treats as a bug in its request, as it should.
fn foreign(now: Millis, field: &str) -> SimResponse {
    business_error(
        now,
        102,
        &format!("参数不合法: {field} does not exist for this seller_id and region"),
    )
}

fn business_error(now: Millis, code: i64, message: &str) -> SimResponse {
    SimResponse::json(
        200,
        &json!({
            "code": code,
            "message": message,
            "error_details": [],
            "request_id": format!("{:032X}", splitmix64(now.as_u64() ^ 0x6572)),
            "response_time": wall_time(now),
            "data": [],
            "total": 0,
        }),
    )
}

/// The gateway envelope: string `code`, `msg`, and `data` null (token
/// calls) or the throwable block (gateway rejections).
fn gateway_error(code: &str, msg: &str, at: Option<Millis>) -> SimResponse {
    let data = at.map_or(Value::Null, |now| {
        json!({"throwable": msg, "throwTime": wall_time(now), "message": null, "stackTrace": null, "metadata": {}})
    });
    SimResponse::json(200, &json!({ "code": code, "msg": msg, "data": data }))
}

/// The fields of a token call: multipart (as documented), or a
/// form-urlencoded body or query string (as some clients send them).
fn form_fields(request: &SimRequest) -> BTreeMap<String, String> {
    let mut fields: BTreeMap<String, String> = request
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let content_type = request.header("content-type").unwrap_or_default();
    if let Some(boundary) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
    {
        let boundary = format!("--{}", boundary.trim_matches('"'));
        let body = String::from_utf8_lossy(&request.body);
        for part in body.split(boundary.as_str()) {
            let Some((head, value)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            let Some(name) = head
                .split("name=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
            else {
                continue;
            };
            fields.insert(
                name.to_owned(),
                value.strip_suffix("\r\n").unwrap_or(value).to_owned(),
            );
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        fields.extend(form_urlencoded::parse(&request.body).into_owned());
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Sandbox;

    /// 2024-03-01T00:00:00Z.
    const NOW: Millis = Millis(1_709_251_200_000);
    const PREFIX: &str = "/lingxing";

    fn sandbox() -> Sandbox {
        Sandbox::new(
            SandboxConfig::default()
                .with_rows(3)
                .with_generation_ms(1_000),
        )
    }

    fn json_of(response: &SimResponse) -> Value {
        serde_json::from_slice(&response.body).expect("a JSON answer")
    }

    /// The envelope's `code`, string or int, as text.
    fn code(response: &SimResponse) -> String {
        match &json_of(response)["code"] {
            Value::String(code) => code.clone(),
            other => other.to_string(),
        }
    }

    fn form(path: &str, fields: &str) -> SimRequest {
        let mut request = SimRequest::new(Method::Post, format!("{PREFIX}{path}"));
        request.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        request.body = fields.as_bytes().to_vec();
        request
    }

    /// `(access, refresh)` from a token answer.
    fn pair(response: &SimResponse) -> (String, String) {
        let answer = json_of(response);
        let text = |name: &str| answer["data"][name].as_str().expect(name).to_owned();
        (text("access_token"), text("refresh_token"))
    }

    fn fetch(sandbox: &mut Sandbox) -> (String, String) {
        let fields = format!("appId={APP_ID}&appSecret={APP_SECRET}");
        pair(&sandbox.handle(NOW, &form(TOKEN_PATH, &fields)))
    }

    fn refresh(sandbox: &mut Sandbox, refresh: &str) -> SimResponse {
        let fields = format!("appId={APP_ID}&refreshToken={refresh}");
        sandbox.handle(NOW, &form(REFRESH_PATH, &fields))
    }

    /// A business call signed as the gateway expects.
    fn call(sandbox: &mut Sandbox, path: &str, token: &str, body: Value) -> SimResponse {
        let timestamp = NOW.as_u64() / 1000;
        let Value::Object(params) = &body else {
            panic!("an object body")
        };
        let common = [
            ("access_token", Value::from(token)),
            ("app_key", Value::from(APP_ID)),
            ("timestamp", Value::from(timestamp)),
        ];
        let signature = sign::sign(
            APP_ID,
            params
                .iter()
                .map(|(k, v)| (k.as_str(), v))
                .chain(common.iter().map(|(k, v)| (*k, v))),
        )
        .expect("signable");
        let mut request = SimRequest::new(
            Method::Post,
            format!(
                "{PREFIX}{path}?access_token={token}&app_key={APP_ID}&timestamp={timestamp}&sign={}",
                sign::encode(&signature)
            ),
        );
        request
            .headers
            .push(("Content-Type".into(), "application/json".into()));
        request.body = serde_json::to_vec(&body).expect("JSON");
        sandbox.handle(NOW, &request)
    }

    fn create(sandbox: &mut Sandbox, token: &str, seller: &str, region: &str) -> String {
        let marketplace = Region::parse(region)
            .expect("a region")
            .marketplaces()
            .first()
            .map(|(_, id)| *id)
            .expect("a marketplace");
        let answer = call(
            sandbox,
            CREATE_PATH,
            token,
            json!({"seller_id": seller, "region": region, "report_type": SAMPLE_REPORT_TYPE, "marketplace_ids": [marketplace]}),
        );
        assert_eq!(code(&answer), "0", "{:?}", json_of(&answer));
        json_of(&answer)["data"]["task_id"]
            .as_str()
            .expect("a task id")
            .to_owned()
    }

    fn query(
        sandbox: &mut Sandbox,
        token: &str,
        task: &str,
        seller: &str,
        region: &str,
    ) -> SimResponse {
        call(
            sandbox,
            QUERY_PATH,
            token,
            json!({"seller_id": seller, "region": region, "task_id": task}),
        )
    }

    fn simulator(sandbox: &Sandbox) -> &Simulator {
        sandbox
            .simulator::<Simulator>()
            .expect("the Lingxing simulator")
    }

    #[test]
    fn a_task_answers_only_the_seller_and_region_that_created_it() {
        let mut sandbox = sandbox();
        let (token, _) = fetch(&mut sandbox);
        let task = create(&mut sandbox, &token, SELLER_ID, "na");
        assert_eq!(
            code(&query(&mut sandbox, &token, &task, SELLER_ID, "na")),
            "0"
        );
        for (seller, region) in [("A2OTHERSELLER9", "na"), (SELLER_ID, "eu")] {
            let refused = query(&mut sandbox, &token, &task, seller, region);
            assert_eq!(code(&refused), "102", "{seller} {region}");
            assert!(json_of(&refused)["message"]
                .as_str()
                .is_some_and(|m| m.contains("seller_id and region")));
            assert_eq!(
                json_of(&refused)["data"],
                json!([]),
                "nothing of the task leaks"
            );
        }
        // Renewing its document's link: the same rule.
        let document = simulator(&sandbox)
            .tasks
            .get(&task)
            .map(|t| t.document_id.clone())
            .expect("the task's document");
        let renew = |sandbox: &mut Sandbox, seller: &str| {
            code(&call(
                sandbox,
                RENEW_PATH,
                &token,
                json!({"seller_id": seller, "region": "na", "report_document_id": document}),
            ))
        };
        assert_eq!(renew(&mut sandbox, "A2OTHERSELLER9"), "102");
        assert_eq!(renew(&mut sandbox, SELLER_ID), "0");
        assert_eq!(simulator(&sandbox).foreign_refusals(), 3);
        assert_eq!(simulator(&sandbox).renewals(), 1);
    }

    #[test]
    fn a_refresh_replaces_the_access_token_issued_with_it() {
        let mut sandbox = sandbox();
        let (old, refresh_token) = fetch(&mut sandbox);
        let (other, _) = fetch(&mut sandbox);
        let task = create(&mut sandbox, &old, SELLER_ID, "na");
        let (new, _) = pair(&refresh(&mut sandbox, &refresh_token));
        assert_ne!(new, old);
        let refused = query(&mut sandbox, &old, &task, SELLER_ID, "na");
        assert_eq!(code(&refused), "2001005");
        assert_eq!(json_of(&refused)["msg"], "access token not match");
        // The new token works, and so does a pair fetched independently.
        assert_eq!(
            code(&query(&mut sandbox, &new, &task, SELLER_ID, "na")),
            "0"
        );
        assert_eq!(
            code(&query(&mut sandbox, &other, &task, SELLER_ID, "na")),
            "0"
        );
        // A refused refresh (the token was spent) replaces nothing.
        assert_eq!(code(&refresh(&mut sandbox, &refresh_token)), "2001009");
        assert_eq!(
            code(&query(&mut sandbox, &new, &task, SELLER_ID, "na")),
            "0"
        );
        assert_eq!(simulator(&sandbox).replaced_tokens_refused(), 1);
    }
}
