//! Unit tests: signing vectors, envelopes, and each transition with
//! hand-written answers (the simulator runs are in `core/tests/`).

use serde_json::Value;

use super::sign;
use super::wire::Envelope;
use super::{Credentials, Region, ReportSpec};
use crate::action::{Action, Event, Outcome, WaitReason};
use crate::error::{ConfigError, Error, ReportFailure};
use crate::http::{HttpRequest, Method};
use crate::input::Input;
use crate::sim::gzip_compress;
use crate::snapshot::Snapshot;
use crate::time::Millis;
use crate::{Blame, ErrorKind, Phase, TransportFailure};
use crate::{Credentials as JobCredentials, JobConfig, JobSpec, ReportJob};

const APP_ID: &str = "ak_0123456789abc";
const T0: u64 = 1_700_000_000_000;
const REPORT: &[u8] = b"amazon-order-id\tsku\tquantity\n111-1\tSKU-1\t2\n111-2\tSKU-2\t1\n";

// ---------------------------------------------------------------- signing

#[test]
fn every_signing_vector_reproduces() {
    // Read at compile time: core's tests perform no I/O either.
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/specs/lingxing/signing-test-vectors.json"
    ));
    let file: Value = serde_json::from_str(text).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 5);
    for vector in vectors {
        let name = vector["name"].as_str().unwrap();
        let app_id = vector["app_id"].as_str().unwrap();
        let params = vector["params"].as_object().unwrap();
        let canonical = sign::canonical(params.iter().map(|(k, v)| (k.as_str(), v))).unwrap();
        assert_eq!(
            canonical,
            vector["canonical"].as_str().unwrap(),
            "{name}: canonical"
        );
        let md5 = sign::md5_upper(&canonical);
        assert_eq!(md5, vector["md5_upper"].as_str().unwrap(), "{name}: md5");
        let signature = sign::sign(app_id, params.iter().map(|(k, v)| (k.as_str(), v))).unwrap();
        assert_eq!(
            signature,
            vector["sign_base64"].as_str().unwrap(),
            "{name}: sign"
        );
        assert_eq!(
            sign::encode(&signature),
            vector["sign_urlencoded"].as_str().unwrap(),
            "{name}: url-encoded"
        );
    }
}

#[test]
fn nested_values_are_compact_and_key_sorted_whatever_the_input_order() {
    let value: Value = serde_json::from_str(r#"{"b":[1,{"z":true,"a":null}],"a":"x y"}"#).unwrap();
    assert_eq!(
        sign::compact_json(&value).unwrap(),
        r#"{"a":"x y","b":[1,{"a":null,"z":true}]}"#
    );
    let mut deep = Value::from(1);
    for _ in 0..40 {
        deep = Value::Array(vec![deep]);
    }
    assert!(sign::compact_json(&deep).is_err());
}

#[test]
fn a_key_that_is_not_16_bytes_is_a_typed_error() {
    assert!(sign::encrypt("short", "ABC").is_err());
    let credentials = Credentials::new("ak_short", "secret");
    assert!(
        matches!(credentials.validate(), Err(ConfigError::Invalid { field, .. }) if field == "appId")
    );
}

// ---------------------------------------------------------------- envelopes

#[test]
fn both_envelopes_and_hostile_bodies_parse_without_panicking() {
    let business =
        Envelope::parse(br#"{"code":0,"message":"success","data":{"task_id":"t"},"total":0}"#)
            .unwrap();
    assert!(business.is_success());
    let gateway = Envelope::parse(
        br#"{"code":"2001006","msg":" api sign not correct","data":{"throwable":"x"}}"#,
    )
    .unwrap();
    assert_eq!(gateway.code.as_deref(), Some("2001006"));
    assert_eq!(gateway.message, "api sign not correct");
    assert!(!gateway.is_success());
    let token =
        Envelope::parse(br#"{"code":"200","msg":"OK","data":{"access_token":"a"}}"#).unwrap();
    assert!(token.is_success());
    let waf = Envelope::parse(br#"{"message":"Your IP address is not allowed"}"#).unwrap();
    assert_eq!(waf.code, None);
    let refused = Envelope::parse(br#"{"code":0,"success":false,"message":"x"}"#).unwrap();
    assert!(!refused.is_success());
    for hostile in [
        &b"<html><body>405 Not Allowed</body></html>"[..],
        b"",
        b"{",
        b"[1,2]",
        b"\xff\xfe",
        b"null",
        b"{\"code\":[]}",
    ] {
        if let Some(envelope) = Envelope::parse(hostile) {
            assert!(!envelope.is_success());
        }
    }
}

#[test]
fn the_documented_examples_parse() {
    macro_rules! example {
        ($name:literal) => {
            (
                $name,
                &include_bytes!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../shared/specs/lingxing/examples/",
                    $name
                ))[..],
            )
        };
    }
    let examples = [
        example!("create-task-success.doc-example.json"),
        example!("error-ip-not-permitted.doc-example.json"),
        example!("error-missing-query-param.doc-example.json"),
        example!("error-rate-limited-103.doc-example.json"),
        example!("error-service-not-found-400.doc-example.json"),
        example!("error-sign-not-correct.doc-example.json"),
        example!("get-token-app-not-exist.doc-example.json"),
        example!("get-token-success.doc-example.json"),
        example!("query-task-done.doc-example.json"),
        example!("query-task-fatal.doc-example.json"),
        example!("renew-url-success.doc-example.json"),
    ];
    for (name, body) in examples {
        let envelope = Envelope::parse(body).unwrap_or_else(|| panic!("{name}"));
        let success = name.contains("success") || name.starts_with("query-task");
        assert_eq!(envelope.is_success(), success, "{name}");
    }
}

// ---------------------------------------------------------------- config

#[test]
fn marketplaces_are_validated_against_the_region() {
    let spec = |region, ids: &[&str]| {
        ReportSpec::new(
            region,
            "A1MQMW3JWPNCBX",
            "GET_AFN_INVENTORY_DATA",
            ids.iter().copied(),
        )
    };
    assert_eq!(
        spec(Region::Na, &["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"]).validate(),
        Ok(())
    );
    assert_eq!(spec(Region::Eu, &["A1PA6795UKMFR9"]).validate(), Ok(()));
    assert_eq!(spec(Region::Fe, &["A1VC38T7YXB528"]).validate(), Ok(()));
    for (region, ids, hint) in [
        (Region::Na, vec!["A1PA6795UKMFR9"], "region eu"),
        (Region::Na, vec!["US"], "ATVPDKIKX0DER"),
        (Region::Fe, vec!["NOPE"], "A19VAU5U5O7RUS"),
        (Region::Eu, vec![], "at least one"),
    ] {
        match spec(region, &ids).validate() {
            Err(ConfigError::Invalid { field, detail }) => {
                assert_eq!(field, "marketplaceIds");
                assert!(detail.contains(hint), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(Region::parse("EU"), Ok(Region::Eu));
    assert!(Region::parse("us").is_err());
    assert_eq!(Region::Eu.marketplace_id("de"), Some("A1PA6795UKMFR9"));
}

#[test]
fn bad_spec_fields_are_named() {
    let base = || {
        ReportSpec::new(
            Region::Na,
            "A1MQMW3JWPNCBX",
            "GET_AFN_INVENTORY_DATA",
            ["ATVPDKIKX0DER"],
        )
    };
    let cases: Vec<(ReportSpec, &str)> = vec![
        (
            ReportSpec {
                seller_id: "a b".into(),
                ..base()
            },
            "sellerId",
        ),
        (
            ReportSpec {
                report_type: "orders".into(),
                ..base()
            },
            "reportType",
        ),
        (
            base().with_data_range("2024-03-01", "2024-03-02T00:00:00Z"),
            "dataStartTime",
        ),
        (
            base().with_data_range("2024-03-02T00:00:00Z", "2024-03-01T00:00:00Z"),
            "dataEndTime",
        ),
        (
            base().with_data_range("2024-02-30T00:00:00Z", "2024-03-01T00:00:00Z"),
            "dataStartTime",
        ),
        (
            base().with_report_option("date Granularity", "DAY"),
            "reportOptions",
        ),
        // Lingxing's rules on top of RFC 3339.
        (
            base().with_data_range("1999-12-31T00:00:00Z", "2024-03-01T00:00:00Z"),
            "dataStartTime",
        ),
        (
            base().with_data_range("2024-03-01T00:00:00Z", "2024-03-02T00:00:00+19:00"),
            "dataEndTime",
        ),
        (
            base().with_data_range("2024-03-01t00:00:00Z", "2024-03-02T00:00:00Z"),
            "dataStartTime",
        ),
    ];
    for (spec, field) in cases {
        match spec.validate() {
            Err(ConfigError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("expected invalid {field}, got {other:?}"),
        }
    }
    let offsets = base().with_data_range("2024-03-01T08:00:00+08:00", "2024-03-01T00:00:00.5Z");
    assert_eq!(offsets.validate(), Ok(()));
}

#[test]
fn record_formats_follow_the_report_type() {
    use crate::records::RecordFormat;
    let spec = |t: &str| ReportSpec::new(Region::Na, "S", t, ["ATVPDKIKX0DER"]);
    assert_eq!(
        spec("GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL").record_format(),
        RecordFormat::Tsv
    );
    assert_eq!(
        spec("GET_SALES_AND_TRAFFIC_REPORT").record_format(),
        RecordFormat::Opaque
    );
    assert_eq!(
        spec("GET_SALES_AND_TRAFFIC_REPORT").content_type(),
        "application/json"
    );
    assert_eq!(
        spec("GET_XML_BROWSE_TREE_DATA").content_type(),
        "application/xml"
    );
    assert_eq!(
        spec("GET_AFN_INVENTORY_DATA")
            .with_record_format(RecordFormat::Csv)
            .record_format(),
        RecordFormat::Csv
    );
}

#[test]
fn credentials_never_print_their_secrets() {
    let credentials = Credentials::new(APP_ID, "canary-secret").with_tokens(
        "canary-access",
        Some("canary-refresh".into()),
        None,
    );
    let debug = format!("{credentials:?}");
    assert!(!debug.contains("canary"), "{debug}");
}

// ---------------------------------------------------------------- transitions

fn spec() -> ReportSpec {
    ReportSpec::new(
        Region::Na,
        "A1MQMW3JWPNCBX",
        "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
        ["ATVPDKIKX0DER"],
    )
    .with_data_range("2024-03-01T00:00:00Z", "2024-03-07T23:59:59Z")
}

fn job_with(credentials: Credentials) -> ReportJob {
    let config = JobConfig {
        base_url: Some("https://lx.test".into()),
        ..JobConfig::default()
    };
    ReportJob::new(
        JobSpec::Lingxing(spec()),
        config,
        JobCredentials::Lingxing(credentials),
        Millis(T0),
    )
    .unwrap()
}

fn job() -> ReportJob {
    job_with(Credentials::new(APP_ID, "canary-secret"))
}

/// Drains `poll`: events, then the first non-event action.
fn drain(job: &mut ReportJob, now: u64) -> (Vec<Event>, Action) {
    let mut events = Vec::new();
    for _ in 0..200 {
        match job.poll(Millis(now)) {
            Action::Event(event) => events.push(event),
            other => return (events, other),
        }
    }
    panic!("poll never settled");
}

/// Polls (jumping over waits) until a request goes out; returns it and the time.
fn next_send(job: &mut ReportJob, mut now: u64) -> (HttpRequest, u64, Vec<Event>) {
    let mut seen = Vec::new();
    for _ in 0..50 {
        let (events, action) = drain(job, now);
        seen.extend(events);
        match action {
            Action::Send(request) => return (request, now, seen),
            Action::Wait { until, reason } => {
                assert!(
                    !matches!(reason, WaitReason::AwaitingResponse { .. }),
                    "a request is still in flight"
                );
                now = until.as_u64().max(now);
            }
            other => panic!("expected a request, got {other:?}"),
        }
    }
    panic!("no request");
}

fn answer(job: &mut ReportJob, now: u64, request: &HttpRequest, status: u16, body: &[u8]) {
    let id = request.id;
    job.handle(
        Millis(now),
        Input::Head {
            id,
            status,
            headers: &[],
        },
    )
    .unwrap();
    for chunk in body.chunks(7) {
        job.handle(Millis(now), Input::Chunk { id, bytes: chunk })
            .unwrap();
    }
    job.handle(Millis(now), Input::End { id }).unwrap();
}

fn path(request: &HttpRequest) -> &str {
    let rest = request
        .url
        .strip_prefix("https://lx.test")
        .unwrap_or(&request.url);
    rest.split('?').next().unwrap_or_default()
}

fn query(request: &HttpRequest) -> Vec<(String, String)> {
    let query = request
        .url
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn token_ok(access: &str, refresh: &str, expires_in: u64) -> Vec<u8> {
    format!(r#"{{"code":"200","msg":"OK","data":{{"access_token":"{access}","refresh_token":"{refresh}","expires_in":{expires_in}}}}}"#)
        .into_bytes()
}

fn business(data: &str) -> Vec<u8> {
    format!(r#"{{"code":0,"message":"success","error_details":[],"request_id":"r","response_time":"2023-10-08 19:36:25","data":{data},"total":0}}"#)
        .into_bytes()
}

fn status(progress: &str, url: Option<&str>) -> Vec<u8> {
    let url = url.map_or("null".to_owned(), |u| format!("\"{u}\""));
    let (doc, gzip) = if progress == "DONE" {
        ("\"amzn1.spdoc.1.4.na.doc\"", "\"GZIP\"")
    } else {
        ("null", "null")
    };
    business(&format!(
        r#"{{"report_document_id":{doc},"progress_status":"{progress}","compression_algorithm":{gzip},"url":{url}}}"#
    ))
}

/// Checks a business call the way the gateway does; returns the JSON body.
fn verify_signed(request: &HttpRequest, now: u64, access: &str) -> Value {
    assert_eq!(request.method, Method::Post);
    let query = query(request);
    let names: Vec<&str> = query.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["access_token", "app_key", "timestamp", "sign"]);
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get("access_token"), access);
    assert_eq!(get("app_key"), APP_ID);
    let timestamp: u64 = get("timestamp").parse().unwrap();
    assert_eq!(timestamp, now / 1000, "a fresh timestamp in seconds");
    assert_eq!(request.send_before, Some(Millis(timestamp * 1000 + 60_000)));
    let body: Value = serde_json::from_slice(request.body.expose()).unwrap();
    let mut params: Vec<(String, Value)> = body
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    params.push(("access_token".into(), Value::from(access)));
    params.push(("app_key".into(), Value::from(APP_ID)));
    params.push(("timestamp".into(), Value::from(timestamp)));
    let expected = sign::sign(APP_ID, params.iter().map(|(k, v)| (k.as_str(), v))).unwrap();
    assert_eq!(get("sign"), expected);
    assert!(
        request.url.contains(&sign::encode(&expected)),
        "the sign is percent-encoded once"
    );
    body
}

/// Runs token + create + one IN_PROGRESS poll; returns the time.
fn to_polling(job: &mut ReportJob) -> u64 {
    let (token, now, _) = next_send(job, T0);
    assert_eq!(path(&token), "/api/auth-server/oauth/access-token");
    assert!(token
        .header("content-type")
        .unwrap()
        .expose()
        .starts_with("multipart/form-data; boundary="));
    let form = String::from_utf8(token.body.expose().to_vec()).unwrap();
    assert!(
        form.contains("name=\"appId\"\r\n\r\nak_0123456789abc\r\n")
            && form.contains("canary-secret")
    );
    assert!(!format!("{token:?}").contains("canary"), "{token:?}");
    answer(
        job,
        now,
        &token,
        200,
        &token_ok("access-1", "refresh-1", 7199),
    );

    let (create, now, _) = next_send(job, now);
    assert_eq!(path(&create), "/basicOpen/report/create/reportExportTask");
    let body = verify_signed(&create, now, "access-1");
    assert_eq!(
        body["marketplace_ids"],
        serde_json::json!(["ATVPDKIKX0DER"])
    );
    assert_eq!(body["data_start_time"], "2024-03-01T00:00:00Z");
    assert!(body.get("report_options").is_none());
    answer(
        job,
        now,
        &create,
        200,
        &business(r#"{"task_id":"f5345297-07e2-4b08-becf-a4c29335246b"}"#),
    );

    let (poll, now, _) = next_send(job, now);
    assert_eq!(
        job.report_id(),
        Some("f5345297-07e2-4b08-becf-a4c29335246b")
    );
    assert_eq!(path(&poll), "/basicOpen/report/query/reportExportTask");
    let body = verify_signed(&poll, now, "access-1");
    assert_eq!(
        body,
        serde_json::json!({"region":"na","seller_id":"A1MQMW3JWPNCBX","task_id":"f5345297-07e2-4b08-becf-a4c29335246b"})
    );
    answer(job, now, &poll, 200, &status("IN_PROGRESS", None));
    now
}

fn collect_to_end(job: &mut ReportJob, now: u64) -> (Vec<u8>, Action) {
    let mut data = Vec::new();
    for _ in 0..200 {
        match job.poll(Millis(now)) {
            Action::Event(Event::Data(chunk)) => data.extend(chunk.bytes),
            Action::Event(Event::DataReset { .. }) => data.clear(),
            Action::Event(_) => {}
            other => return (data, other),
        }
    }
    panic!("never settled");
}

#[test]
fn happy_path_ends_done_with_tsv_rows() {
    let mut job = job();
    let now = to_polling(&mut job);
    let (poll, now, _) = next_send(&mut job, now);
    answer(
        &mut job,
        now,
        &poll,
        200,
        &status("DONE", Some("https://s3.test/doc?X-Amz-Signature=abc")),
    );
    let (download, now, events) = next_send(&mut job, now);
    assert!(events.iter().any(|e| matches!(e, Event::LinkObtained { expires_at: Some(at) } if at.as_u64() == now + 300_000)));
    assert_eq!(download.url, "https://s3.test/doc?X-Amz-Signature=abc");
    assert!(
        download.headers.is_empty(),
        "no Lingxing auth on the download"
    );
    assert_eq!(download.send_before, Some(Millis(now + 300_000)));
    let gz = gzip_compress(REPORT, 6);
    answer(&mut job, now, &download, 200, &gz);
    let (data, action) = collect_to_end(&mut job, now);
    assert_eq!(data, REPORT);
    let Action::Done(summary) = action else {
        panic!("{action:?}")
    };
    assert_eq!(summary.outcome, Outcome::Complete);
    assert_eq!(summary.raw_bytes, gz.len() as u64);
    assert_eq!(summary.md5, crate::integrity::Md5::digest(&gz).to_hex());
    assert!(summary.gzip);
    assert_eq!(summary.rows, 2, "data rows after the header");
    assert_eq!(summary.content_type, "text/tab-separated-values");
    assert_eq!(summary.requests, 5);
}

#[test]
fn a_plain_body_labelled_null_and_a_gzip_body_labelled_null_both_decode() {
    for body in [REPORT.to_vec(), gzip_compress(REPORT, 1)] {
        let mut job = job();
        let now = to_polling(&mut job);
        let (poll, now, _) = next_send(&mut job, now);
        let plain = business(
            r#"{"report_document_id":"amzn1.spdoc.x","progress_status":"DONE","compression_algorithm":null,"url":"https://s3.test/d"}"#,
        );
        answer(&mut job, now, &poll, 200, &plain);
        let (download, now, _) = next_send(&mut job, now);
        answer(&mut job, now, &download, 200, &body);
        let (data, action) = collect_to_end(&mut job, now);
        assert!(matches!(action, Action::Done(_)), "{action:?}");
        assert_eq!(data, REPORT);
    }
}

#[test]
fn fatal_is_a_typed_report_failure_even_with_code_zero() {
    let mut job = job();
    let now = to_polling(&mut job);
    let (poll, now, _) = next_send(&mut job, now);
    let fatal = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/specs/lingxing/examples/query-task-fatal.doc-example.json"
    ));
    answer(&mut job, now, &poll, 200, fatal);
    let (_, action) = drain(&mut job, now);
    match action {
        Action::Failed(Error::ReportFailed {
            failure: ReportFailure::Fatal,
            status,
            ..
        }) => assert_eq!(status, "FATAL"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cancelled_is_done_with_no_data() {
    let mut job = job();
    let now = to_polling(&mut job);
    let (poll, now, _) = next_send(&mut job, now);
    answer(&mut job, now, &poll, 200, &status("CANCELLED", None));
    let (data, action) = collect_to_end(&mut job, now);
    let Action::Done(summary) = action else {
        panic!("{action:?}")
    };
    assert_eq!(summary.outcome, Outcome::NoData);
    assert_eq!((summary.raw_bytes, summary.bytes, summary.rows), (0, 0, 0));
    assert_eq!(summary.md5, "d41d8cd98f00b204e9800998ecf8427e");
    assert!(data.is_empty());
}

#[test]
fn an_expired_link_is_renewed_never_recreated() {
    let mut job = job();
    let now = to_polling(&mut job);
    let (poll, now, _) = next_send(&mut job, now);
    answer(
        &mut job,
        now,
        &poll,
        200,
        &status("DONE", Some("https://s3.test/old")),
    );
    let (download, now, _) = next_send(&mut job, now);
    answer(
        &mut job,
        now,
        &download,
        403,
        b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
    );
    let (renew, now, _) = next_send(&mut job, now);
    assert_eq!(path(&renew), "/basicOpen/report/amazonReportExportTask");
    let body = verify_signed(&renew, now, "access-1");
    assert_eq!(
        body,
        serde_json::json!({"region":"na","report_document_id":"amzn1.spdoc.1.4.na.doc","seller_id":"A1MQMW3JWPNCBX"})
    );
    answer(
        &mut job,
        now,
        &renew,
        200,
        &business(r#"{"url":"https://s3.test/new","report_document_id":"amzn1.spdoc.1.4.na.doc"}"#),
    );
    let (download, now, _) = next_send(&mut job, now);
    assert_eq!(download.url, "https://s3.test/new");
    answer(&mut job, now, &download, 200, &gzip_compress(REPORT, 6));
    assert!(matches!(collect_to_end(&mut job, now).1, Action::Done(_)));
}

#[test]
fn a_link_that_lapses_while_waiting_is_renewed_before_downloading() {
    let mut job = job();
    let now = to_polling(&mut job);
    let (poll, now, _) = next_send(&mut job, now);
    answer(
        &mut job,
        now,
        &poll,
        200,
        &status("DONE", Some("https://s3.test/old")),
    );
    let (download, now, _) = next_send(&mut job, now);
    // The download hangs until the link has (almost) lapsed.
    let later = now + 295_000;
    job.handle(
        Millis(later),
        Input::TransportFailed {
            id: download.id,
            failure: TransportFailure::Timeout,
        },
    )
    .unwrap();
    let (request, _, _) = next_send(&mut job, later);
    assert_eq!(path(&request), "/basicOpen/report/amazonReportExportTask");
}

#[test]
fn a_corrupt_body_is_renewed_then_a_typed_integrity_failure() {
    let mut job = job();
    let now = to_polling(&mut job);
    let (poll, mut now, _) = next_send(&mut job, now);
    answer(
        &mut job,
        now,
        &poll,
        200,
        &status("DONE", Some("https://s3.test/d")),
    );
    let mut bad = gzip_compress(REPORT, 6);
    let middle = bad.len() / 2;
    bad[middle] ^= 0x55;
    let mut renewals = 0;
    for _ in 0..20 {
        let (_, action) = collect_to_end(&mut job, now);
        let request = match action {
            Action::Send(request) => request,
            Action::Wait { until, .. } => {
                now = until.as_u64();
                continue;
            }
            Action::Failed(error) => {
                assert_eq!(error.kind(), ErrorKind::Gzip, "{error}");
                break;
            }
            other => panic!("{other:?}"),
        };
        if path(&request) == "/basicOpen/report/amazonReportExportTask" {
            renewals += 1;
            answer(
                &mut job,
                now,
                &request,
                200,
                &business(r#"{"url":"https://s3.test/d2","report_document_id":""}"#),
            );
        } else {
            assert_eq!(request.method, Method::Get);
            answer(&mut job, now, &request, 200, &bad);
        }
    }
    assert!(job.is_finished());
    assert_eq!(renewals, JobConfig::default().max_link_refreshes);
}

#[test]
fn an_expired_token_is_refreshed_once_with_its_refresh_token() {
    let mut job = job();
    let now = to_polling(&mut job);
    let (poll, now, _) = next_send(&mut job, now);
    answer(
        &mut job,
        now,
        &poll,
        200,
        br#"{"code":"2001003","msg":"access token is missing or expire","data":null}"#,
    );
    let (refresh, now, _) = next_send(&mut job, now);
    assert_eq!(path(&refresh), "/api/auth-server/oauth/refresh");
    let form = String::from_utf8(refresh.body.expose().to_vec()).unwrap();
    assert!(
        form.contains("name=\"refreshToken\"\r\n\r\nrefresh-1\r\n"),
        "{form}"
    );
    answer(
        &mut job,
        now,
        &refresh,
        200,
        &token_ok("access-2", "refresh-2", 7199),
    );
    let (replay, now, _) = next_send(&mut job, now);
    assert_eq!(path(&replay), "/basicOpen/report/query/reportExportTask");
    verify_signed(&replay, now, "access-2");
    answer(&mut job, now, &replay, 200, &status("IN_PROGRESS", None));
    // Later the new token expires too: the new refresh token is used, once.
    let (poll, now, _) = next_send(&mut job, now);
    answer(
        &mut job,
        now,
        &poll,
        200,
        br#"{"code":"2001003","msg":"access token is missing or expire","data":null}"#,
    );
    let (refresh2, now, _) = next_send(&mut job, now);
    let form = String::from_utf8(refresh2.body.expose().to_vec()).unwrap();
    assert!(
        form.contains("refresh-2") && !form.contains("refresh-1"),
        "a refresh token goes out once"
    );
    answer(
        &mut job,
        now,
        &refresh2,
        200,
        &token_ok("access-3", "refresh-3", 7199),
    );
    // Refused again at once: a refresh did not help, so a new pair is fetched
    // with the AppSecret; refused once more, the job stops.
    let (replay, now, _) = next_send(&mut job, now);
    answer(
        &mut job,
        now,
        &replay,
        200,
        br#"{"code":"2001003","msg":"access token is missing or expire","data":null}"#,
    );
    let (fetch, now, _) = next_send(&mut job, now);
    assert_eq!(path(&fetch), "/api/auth-server/oauth/access-token");
    answer(
        &mut job,
        now,
        &fetch,
        200,
        &token_ok("access-4", "refresh-4", 7199),
    );
    let (replay, now, _) = next_send(&mut job, now);
    verify_signed(&replay, now, "access-4");
    answer(
        &mut job,
        now,
        &replay,
        200,
        br#"{"code":"2001003","msg":"access token is missing or expire","data":null}"#,
    );
    let (_, action) = drain(&mut job, now);
    assert!(
        matches!(action, Action::Failed(Error::Rejected { ref code, .. }) if code.as_deref() == Some("2001003")),
        "{action:?}"
    );
}

#[test]
fn a_lost_refresh_is_never_retried_with_the_same_token() {
    let mut job = job_with(Credentials::new(APP_ID, "canary-secret").with_tokens(
        "a",
        Some("refresh-x".into()),
        Some(Millis(T0 + 1_000)),
    ));
    let (refresh, now, _) = next_send(&mut job, T0);
    assert_eq!(path(&refresh), "/api/auth-server/oauth/refresh");
    job.handle(
        Millis(now),
        Input::TransportFailed {
            id: refresh.id,
            failure: TransportFailure::Reset,
        },
    )
    .unwrap();
    let (again, _, _) = next_send(&mut job, now);
    assert_eq!(
        path(&again),
        "/api/auth-server/oauth/access-token",
        "the spent refresh token is not reused"
    );
}

#[test]
fn tokens_are_refreshed_before_they_expire() {
    let mut job = job();
    let (token, now, _) = next_send(&mut job, T0);
    answer(
        &mut job,
        now,
        &token,
        200,
        &token_ok("access-1", "refresh-1", 600),
    );
    let (create, now, _) = next_send(&mut job, now);
    answer(
        &mut job,
        now,
        &create,
        200,
        &business(r#"{"task_id":"t-1"}"#),
    );
    // Past expiry minus the margin: the next call refreshes first.
    let (request, _, _) = next_send(&mut job, now + 400_000);
    assert_eq!(path(&request), "/api/auth-server/oauth/refresh");
}

#[test]
fn throttling_backs_off_and_replays_on_the_same_endpoint() {
    for body in [
        &br#"{"code":"3001008","msg":"requests too frequently. please request later.","data":null}"#[..],
        br#"{"code":103,"message":"\u8bf7\u6c42\u8fc7\u4e8e\u9891\u7e41","error_details":[],"data":[],"total":0}"#,
    ] {
        let mut job = job();
        let now = to_polling(&mut job);
        let (poll, now, _) = next_send(&mut job, now);
        answer(&mut job, now, &poll, 200, body);
        let (events, action) = drain(&mut job, now);
        let Action::Wait { until, reason } = action else { panic!("{action:?}") };
        assert!(until.as_u64() > now);
        assert!(matches!(reason, WaitReason::RateLimit { ref bucket } if bucket.ends_with("/query/reportExportTask")), "{reason:?}");
        // `Event::Throttled.until` is the retry instant.
        assert!(
            events.iter().any(|e| matches!(e, Event::Throttled { bucket, until: at } if bucket.ends_with("/query/reportExportTask") && *at == until)),
            "{events:?}"
        );
        let (replay, at, _) = next_send(&mut job, now);
        // Replayed at the retry instant: the emptied bucket is back by then.
        assert_eq!(at, until.as_u64());
        assert_eq!(path(&replay), "/basicOpen/report/query/reportExportTask");
        verify_signed(&replay, at, "access-1");
    }
}

#[test]
fn a_stale_sign_is_replayed_with_a_fresh_timestamp() {
    let mut job = job();
    let now = to_polling(&mut job);
    let (poll, now, _) = next_send(&mut job, now);
    answer(
        &mut job,
        now,
        &poll,
        200,
        br#"{"code":"2001007","msg":"api sign has expired","data":null}"#,
    );
    let (replay, at, _) = next_send(&mut job, now);
    assert!(at > now);
    verify_signed(&replay, at, "access-1");
}

#[test]
fn a_lost_request_holds_its_endpoint_for_two_minutes() {
    let mut job = job();
    let now = to_polling(&mut job);
    let (poll, sent, _) = next_send(&mut job, now);
    job.handle(
        Millis(sent + 5_000),
        Input::TransportFailed {
            id: poll.id,
            failure: TransportFailure::Timeout,
        },
    )
    .unwrap();
    let (replay, at, _) = next_send(&mut job, sent + 5_000);
    assert!(
        at >= sent + 120_000,
        "replayed {} ms after the lost request",
        at - sent
    );
    assert_eq!(path(&replay), "/basicOpen/report/query/reportExportTask");
}

#[test]
fn an_oversized_answer_is_retried_and_frees_its_endpoint() {
    // The shared policy retries an oversized API answer (it used to fail the
    // job at once). The answer did arrive, so the endpoint's token is back:
    // the retry waits for its backoff, not for the gateway's 2 minutes.
    // (An unreadable create answer leaves the task unknown: a second create
    // is only sent because the config allows it.)
    let config = JobConfig {
        base_url: Some("https://lx.test".into()),
        max_api_body_bytes: 1_024,
        allow_duplicate_reports: true,
        ..JobConfig::default()
    };
    let mut job = ReportJob::new(
        JobSpec::Lingxing(spec()),
        config,
        JobCredentials::Lingxing(Credentials::new(APP_ID, "canary-secret")),
        Millis(T0),
    )
    .unwrap();
    let (token, now, _) = next_send(&mut job, T0);
    answer(
        &mut job,
        now,
        &token,
        200,
        &token_ok("access-1", "refresh-1", 7199),
    );
    let (create, sent, _) = next_send(&mut job, now);
    let padding = " ".repeat(4_096);
    let huge = format!(r#"{{"code":0,"message":"{padding}","data":{{"task_id":"t-1"}}}}"#);
    answer(&mut job, sent, &create, 200, huge.as_bytes());
    let (events, action) = drain(&mut job, sent);
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Retrying {
                cause: ErrorKind::ResponseTooLarge,
                ..
            }
        )),
        "{events:?}"
    );
    assert!(
        matches!(
            action,
            Action::Wait {
                reason: WaitReason::RetryBackoff,
                ..
            }
        ),
        "{action:?}"
    );
    let (again, at, _) = next_send(&mut job, sent);
    assert_eq!(path(&again), "/basicOpen/report/create/reportExportTask");
    assert!(at < sent + 120_000, "waited {} ms", at - sent);
    verify_signed(&again, at, "access-1");
}

#[test]
fn config_errors_are_terminal_and_say_what_to_fix() {
    let cases: [(u16, &[u8], &str); 7] = [
        (200, br#"{"code":"2001001","msg":"app not exist","data":null}"#, "check appId"),
        (200, br#"{"code":"2001002","msg":"app secret not correct","data":null}"#, "check appSecret"),
        (200, br#"{"code":"2001004","msg":"the api not authorized, please grant first","data":null}"#, "not granted"),
        (200, br#"{"code":"3001002","msg":"ip not permit, please add ip to white list first.","data":null}"#, "white list"),
        (403, br#"{"message":"Your IP address is not allowed"}"#, "mainstream HTTP client"),
        (401, br#"{"code":"401","msg":"\u6388\u6743\u88ab\u7981\u7528","data":null}"#, "disabled"),
        (405, b"<html><head><title>405 Not Allowed</title></head><body>nginx</body></html>", "base_url"),
    ];
    for (status, body, hint) in cases {
        let mut job = job();
        let (token, now, _) = next_send(&mut job, T0);
        answer(
            &mut job,
            now,
            &token,
            200,
            &token_ok("access-1", "refresh-1", 7199),
        );
        let (create, now, _) = next_send(&mut job, now);
        answer(&mut job, now, &create, status, body);
        let (_, action) = drain(&mut job, now);
        match action {
            Action::Failed(error @ Error::Rejected { .. }) => {
                assert_eq!(error.blame(), Blame::Config);
                assert!(!error.is_retryable());
                assert!(error.to_string().contains(hint), "{error}");
            }
            other => panic!("{status} {}: {other:?}", String::from_utf8_lossy(body)),
        }
    }
}

#[test]
fn html_on_200_is_a_retried_typed_error() {
    let mut job = job();
    let (token, now, _) = next_send(&mut job, T0);
    answer(
        &mut job,
        now,
        &token,
        200,
        &token_ok("access-1", "refresh-1", 7199),
    );
    let mut now = now;
    for _ in 0..JobConfig::default().retry.max_attempts {
        let (create, at, _) = next_send(&mut job, now);
        now = at;
        answer(&mut job, now, &create, 200, b"<html>maintenance</html>");
    }
    let (_, action) = drain(&mut job, now);
    match action {
        Action::Failed(Error::RetriesExhausted { last, .. }) => {
            assert_eq!(last.kind(), ErrorKind::MalformedResponse)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_token_answer_that_fails_to_parse_never_quotes_the_body() {
    let mut job = job();
    let (token, now, _) = next_send(&mut job, T0);
    answer(
        &mut job,
        now,
        &token,
        200,
        br#"{"code":"200","data":{"refresh_token":"canary-refresh"}}"#,
    );
    let (events, _) = drain(&mut job, now);
    assert!(!format!("{events:?}").contains("canary"));
    let mut job = job_with(Credentials::new(APP_ID, "s"));
    let (token, now, _) = next_send(&mut job, T0);
    answer(&mut job, now, &token, 200, br#"<html>canary-access</html>"#);
    let mut now = now;
    loop {
        let (events, action) = drain(&mut job, now);
        assert!(!format!("{events:?}{action:?}").contains("canary"));
        match action {
            Action::Failed(error) => {
                assert!(!error.to_string().contains("canary"));
                break;
            }
            Action::Wait { until, .. } => now = until.as_u64(),
            Action::Send(request) => answer(
                &mut job,
                now,
                &request,
                200,
                br#"<html>canary-access</html>"#,
            ),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn snapshots_hold_no_secrets_and_a_restored_download_renews_its_link() {
    let mut job = job();
    let now = to_polling(&mut job);
    let (poll, now, _) = next_send(&mut job, now);
    answer(
        &mut job,
        now,
        &poll,
        200,
        &status(
            "DONE",
            Some("https://s3.test/doc?X-Amz-Signature=canary-link"),
        ),
    );
    let (events, action) = drain(&mut job, now);
    assert!(matches!(action, Action::Send(_)), "{events:?} {action:?}");
    let snapshot = job.snapshot().to_json();
    for secret in ["canary", "access-1", "refresh-1"] {
        assert!(!snapshot.contains(secret), "{secret} in {snapshot}");
    }
    assert!(snapshot.contains("\"provider\":\"lingxing\""), "{snapshot}");
    let mut restored = ReportJob::restore(
        Snapshot::from_json(&snapshot).unwrap(),
        job.config().clone(),
        JobCredentials::Lingxing(Credentials::new(APP_ID, "s")),
        Millis(now),
    )
    .unwrap();
    assert_eq!(
        restored.report_id(),
        Some("f5345297-07e2-4b08-becf-a4c29335246b")
    );
    let (first, now, _) = next_send(&mut restored, now);
    assert_eq!(path(&first), "/api/auth-server/oauth/access-token");
    answer(
        &mut restored,
        now,
        &first,
        200,
        &token_ok("access-9", "refresh-9", 7199),
    );
    let (second, _, _) = next_send(&mut restored, now);
    assert_eq!(path(&second), "/basicOpen/report/amazonReportExportTask");
    assert_eq!(restored.phase(), Phase::ResolvingLink);
}

#[test]
fn debug_of_a_signed_request_hides_token_and_sign() {
    let mut job = job_with(Credentials::new(APP_ID, "s").with_tokens("canary-access", None, None));
    let (create, _, _) = next_send(&mut job, T0);
    assert!(create.url.contains("canary-access"));
    let debug = format!("{create:?}");
    assert!(
        !debug.contains("canary") && !debug.contains("sign="),
        "{debug}"
    );
}

#[test]
fn mismatched_and_invalid_credentials_are_refused_up_front() {
    let config = JobConfig::default();
    let bad = ReportJob::new(
        JobSpec::Lingxing(spec()),
        config,
        JobCredentials::Lingxing(Credentials::new("ak_too_long_for_aes", "s")),
        Millis(T0),
    );
    assert!(
        matches!(bad, Err(ConfigError::Invalid { ref field, .. }) if field == "appId"),
        "{bad:?}"
    );
}
