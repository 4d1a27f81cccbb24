//! Every request the SP-API Reports machine emits, checked against Amazon's
//! model (`shared/specs/amazon-sp-api/reports_2021-06-30.json`, Swagger 2,
//! beside the repository): the operation exists with that method and path,
//! every query parameter is declared and valid (arrays as comma-separated
//! lists within their item counts and enums, integers within bounds,
//! date-times), required ones are present, and the body validates against
//! the operation's schema (required fields, types, bounds, no undeclared
//! fields, `reportOptions` strings). Response parsing is checked on the
//! model's own sandbox pairs (`x-amzn-api-sandbox`), answered in the order
//! the machine asks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Value};

use reportflow::providers::amazon_sp_api::{Region, ReportSpec};
use reportflow::sim::amazon_sp_api;
use reportflow::{
    Action, Error, ErrorKind, HttpRequest, Input, JobConfig, JobSpec, Millis, ReportJob,
};

const START: Millis = Millis(1_709_251_200_000);

// A test may read the model from disk; the library never does.
#[allow(clippy::disallowed_methods)]
fn model() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/specs/amazon-sp-api/reports_2021-06-30.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("the model is JSON")
}

/// `(METHOD, path template)` → operation.
fn operations(model: &Value) -> BTreeMap<(String, String), Value> {
    let mut ops = BTreeMap::new();
    for (path, item) in model["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if operation.get("operationId").is_some() {
                ops.insert(
                    (method.to_ascii_uppercase(), path.clone()),
                    operation.clone(),
                );
            }
        }
    }
    ops
}

fn definition<'a>(model: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.trim_start_matches("#/definitions/");
            &model["definitions"][name]
        }
        None => schema,
    }
}

fn is_date_time(text: &str) -> bool {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19)
        && (text.ends_with('Z')
            || text
                .get(text.len().saturating_sub(6)..)
                .is_some_and(|t| t.starts_with(['+', '-'])))
}

fn validate(model: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = definition(model, schema);
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Some(object) = value.as_object() else {
                errors.push(format!("{at}: not an object"));
                return;
            };
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap_or_default();
                if !object.contains_key(name) {
                    errors.push(format!("{at}: required {name} missing"));
                }
            }
            for (name, field) in object {
                match schema.get("properties").and_then(|p| p.get(name)) {
                    Some(property) => {
                        validate(model, property, field, &format!("{at}.{name}"), errors)
                    }
                    None => match schema.get("additionalProperties") {
                        Some(extra) if extra.is_object() => {
                            validate(model, extra, field, &format!("{at}.{name}"), errors)
                        }
                        _ => errors.push(format!("{at}: undeclared field {name}")),
                    },
                }
            }
        }
        Some("array") => {
            let Some(items) = value.as_array() else {
                errors.push(format!("{at}: not an array"));
                return;
            };
            let count = items.len() as u64;
            if schema["minItems"].as_u64().is_some_and(|min| count < min)
                || schema["maxItems"].as_u64().is_some_and(|max| count > max)
            {
                errors.push(format!("{at}: {count} items"));
            }
            for (i, item) in items.iter().enumerate() {
                validate(model, &schema["items"], item, &format!("{at}[{i}]"), errors);
            }
        }
        Some("string") => {
            let Some(text) = value.as_str() else {
                errors.push(format!("{at}: not a string"));
                return;
            };
            if schema["format"] == "date-time" && !is_date_time(text) {
                errors.push(format!("{at}: `{text}` is not a date-time"));
            }
            if let Some(allowed) = schema["enum"].as_array() {
                if !allowed.iter().any(|a| a == text) {
                    errors.push(format!("{at}: `{text}` not in the enum"));
                }
            }
        }
        _ => {}
    }
}

fn match_template(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    if t.len() != p.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (t, p) in t.iter().zip(&p) {
        if let Some(name) = t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            if p.is_empty() {
                return None;
            }
            params.insert(name.to_owned(), (*p).to_owned());
        } else if t != p {
            return None;
        }
    }
    Some(params)
}

/// The operation id of `request` and what in it the model refuses.
fn check_request(model: &Value, request: &HttpRequest) -> (String, Vec<String>) {
    let mut errors = Vec::new();
    let rest = request
        .url
        .strip_prefix("https://sellingpartnerapi-fe.amazon.com")
        .or_else(|| {
            request
                .url
                .strip_prefix("https://sellingpartnerapi-na.amazon.com")
        })
        .or_else(|| {
            request
                .url
                .strip_prefix("https://sellingpartnerapi-eu.amazon.com")
        })
        .unwrap_or_else(|| panic!("an SP-API host: {}", request.url));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let ops = operations(model);
    let method = request.method.as_str().to_owned();
    let Some(((_, template), operation)) = ops
        .iter()
        .find(|((m, t), _)| *m == method && match_template(t, path).is_some())
    else {
        return (
            String::new(),
            vec![format!("{method} {path}: no such operation")],
        );
    };
    let id = operation["operationId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let declared: BTreeMap<String, &Value> = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            model["paths"][template]["parameters"]
                .as_array()
                .into_iter()
                .flatten(),
        )
        .map(|p| (p["name"].as_str().unwrap_or_default().to_owned(), p))
        .collect();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    for (name, value) in &pairs {
        let Some(param) = declared.get(name).filter(|p| p["in"] == "query") else {
            errors.push(format!("{id}: undeclared query parameter {name}"));
            continue;
        };
        let as_json = match param["type"].as_str() {
            Some("array") => json!(value.split(',').collect::<Vec<_>>()),
            Some("integer") => match value.parse::<i64>() {
                Ok(n) => {
                    let low = param["minimum"].as_i64().is_some_and(|min| n < min);
                    let high = param["maximum"].as_i64().is_some_and(|max| n > max);
                    if low || high {
                        errors.push(format!("{id}: {name}={n} out of bounds"));
                    }
                    continue;
                }
                Err(_) => {
                    errors.push(format!("{id}: {name} is not an integer"));
                    continue;
                }
            },
            _ => json!(value),
        };
        validate(model, param, &as_json, &format!("{id}?{name}"), &mut errors);
    }
    for (name, param) in &declared {
        let present = match param["in"].as_str() {
            Some("query") => pairs.iter().any(|(n, _)| n == name),
            Some("path") => match_template(template, path).is_some_and(|p| p.contains_key(name)),
            Some("body") => !request.body.expose().is_empty(),
            _ => true,
        };
        if param["required"] == true && !present {
            errors.push(format!("{id}: required {name} missing"));
        }
        if param["in"] == "body" && present {
            match serde_json::from_slice::<Value>(request.body.expose()) {
                Ok(body) => validate(
                    model,
                    &param["schema"],
                    &body,
                    &format!("{id} body"),
                    &mut errors,
                ),
                Err(e) => errors.push(format!("{id}: body is not JSON: {e}")),
            }
            let json_type = request.headers.iter().any(|h| {
                h.name.eq_ignore_ascii_case("content-type")
                    && h.value.expose().starts_with("application/json")
            });
            if !json_type {
                errors.push(format!("{id}: body without content-type application/json"));
            }
        }
    }
    // getReports' rules the schema cannot say, from its descriptions:
    // "Either reportTypes or nextToken is required", and the token goes
    // alone ("Specifying nextToken with any other parameters will cause the
    // request to fail").
    if id == "getReports" {
        let has = |name: &str| pairs.iter().any(|(n, _)| n == name);
        if !has("reportTypes") && !has("nextToken") {
            errors.push("getReports: neither reportTypes nor nextToken".into());
        }
        if has("nextToken") && pairs.len() > 1 {
            errors.push("getReports: nextToken with other parameters".into());
        }
    }
    if !request
        .headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("x-amz-access-token"))
    {
        errors.push(format!("{id}: no x-amz-access-token"));
    }
    (id, errors)
}

/// The sandbox pair of `operation_id` answered with `status`.
fn sandbox_response(model: &Value, operation_id: &str, status: &str) -> Value {
    let operation = operations(model)
        .into_values()
        .find(|op| op["operationId"] == operation_id)
        .expect("the operation");
    operation["responses"][status]["x-amzn-api-sandbox"]["static"][0]["response"].clone()
}

/// Drives `job` by hand, answering each request with `answer`; returns every
/// request sent and how the job ended.
fn drive(
    mut job: ReportJob,
    mut answer: impl FnMut(&HttpRequest) -> (u16, Vec<u8>),
) -> (Vec<HttpRequest>, Result<(), Error>) {
    let mut now = START;
    let mut sent = Vec::new();
    for _ in 0..500 {
        match job.poll(now) {
            Action::Send(request) => {
                let (status, body) = answer(&request);
                let id = request.id;
                sent.push(request);
                job.handle(
                    now,
                    Input::Head {
                        id,
                        status,
                        headers: &[],
                    },
                )
                .expect("head");
                job.handle(now, Input::Chunk { id, bytes: &body })
                    .expect("chunk");
                job.handle(now, Input::End { id }).expect("end");
            }
            Action::Wait { until, .. } => now = until.max(now),
            Action::Done(_) => return (sent, Ok(())),
            Action::Failed(error) => return (sent, Err(error)),
            _ => {}
        }
    }
    panic!("the job did not end");
}

/// Answers from the model's sandbox pairs (a token and a DONE status where
/// the model has none).
fn sandbox_answers(model: &Value) -> impl FnMut(&HttpRequest) -> (u16, Vec<u8>) + '_ {
    let mut polls = 0;
    move |request: &HttpRequest| {
        let body = |v: Value| v.to_string().into_bytes();
        if request.url.ends_with("/auth/o2/token") {
            return (
                200,
                body(json!({"access_token": "Atza|t", "expires_in": 3600})),
            );
        }
        if request
            .url
            .starts_with("https://d34o8swod1owfl.cloudfront.net/")
        {
            assert!(
                request.headers.is_empty(),
                "the document URL gets no header"
            );
            return (200, b"sku\tprice\nA-1\t9.99\n".to_vec());
        }
        let (id, _) = check_request(model, request);
        match id.as_str() {
            "getReports" => (200, body(sandbox_response(model, "getReports", "200"))),
            "createReport" => (202, body(sandbox_response(model, "createReport", "202"))),
            "getReport" => {
                polls += 1;
                let mut report = sandbox_response(model, "getReport", "200");
                if polls > 1 {
                    report["processingStatus"] = json!("DONE");
                    report["reportDocumentId"] = json!("0356cf79-b8b0-4226-b4b9-0ee058ea5760");
                }
                (200, body(report))
            }
            "getReportDocument" => (
                200,
                body(sandbox_response(model, "getReportDocument", "200")),
            ),
            other => panic!("unexpected operation {other}"),
        }
    }
}

fn job(spec: ReportSpec) -> ReportJob {
    ReportJob::new(
        JobSpec::AmazonSpApi(spec),
        JobConfig::default(),
        amazon_sp_api::credentials(),
        START,
    )
    .expect("a valid job")
}

fn specs() -> Vec<ReportSpec> {
    vec![
        amazon_sp_api::sample_report_spec(START),
        amazon_sp_api::sample_report_spec(START).adopting_existing(),
        ReportSpec::new(
            Region::Na,
            "GET_SALES_AND_TRAFFIC_REPORT",
            ["US", "CA", "MX"],
        )
        .with_window("2024-02-01T00:00:00Z", "2024-02-29T23:59:59Z")
        .with_option("dateGranularity", "DAY")
        .with_option("asinGranularity", "CHILD")
        .adopting_existing(),
        ReportSpec::new(Region::Eu, "GET_V2_SETTLEMENT_REPORT_DATA_XML", ["DE"]),
    ]
}

#[test]
fn every_request_of_every_operation_used_conforms_to_the_model() {
    let model = model();
    let mut used = BTreeSet::new();
    for spec in specs() {
        let (sent, end) = drive(job(spec.clone()), sandbox_answers(&model));
        assert!(end.is_ok(), "{spec:?}: {end:?}");
        for request in sent.iter().filter(|r| r.url.contains("sellingpartnerapi-")) {
            let (id, errors) = check_request(&model, request);
            assert!(
                errors.is_empty(),
                "{} {}: {errors:#?}",
                request.method.as_str(),
                request.url
            );
            if request.url.contains("nextToken=") {
                used.insert(format!("{id} (next page)"));
            }
            used.insert(id);
        }
    }
    assert_eq!(
        used,
        [
            "createReport",
            "getReport",
            "getReportDocument",
            "getReports",
            // The model's example list carries a nextToken: adopt reads on.
            "getReports (next page)"
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    );
}

#[test]
fn the_checker_refuses_what_the_model_refuses() {
    // The validator itself: a body with an undeclared field and too many
    // marketplaces, an unknown status in a query.
    let model = model();
    let ops = operations(&model);
    let create = &ops[&("POST".to_owned(), "/reports/2021-06-30/reports".to_owned())];
    let mut errors = Vec::new();
    let body = json!({"reportType": "X", "marketplaceIds": vec!["A"; 26], "extra": 1, "reportOptions": {"a": 1}});
    validate(
        &model,
        &create["parameters"][0]["schema"],
        &body,
        "body",
        &mut errors,
    );
    assert_eq!(errors.len(), 3, "{errors:#?}");
    let mut errors = Vec::new();
    let list = &ops[&("GET".to_owned(), "/reports/2021-06-30/reports".to_owned())];
    let statuses = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "processingStatuses")
        .unwrap();
    validate(
        &model,
        statuses,
        &json!(["DONE", "BAD_VALUE"]),
        "q",
        &mut errors,
    );
    assert_eq!(errors.len(), 1, "{errors:#?}");
}

#[test]
fn the_models_sandbox_answers_parse_and_its_errors_become_typed_rejections() {
    let model = model();
    // The getReports sandbox list holds other report types: nothing to
    // adopt, so the report is created (the 202 example), polled (the 200
    // example, IN_PROGRESS) and fetched through the document example's URL.
    let spec = amazon_sp_api::sample_report_spec(START).adopting_existing();
    let (sent, end) = drive(job(spec), sandbox_answers(&model));
    assert!(end.is_ok(), "{end:?}");
    assert!(
        sent.iter().any(|r| r.url.contains("/reports/ID323")),
        "the example's reportId is polled"
    );
    assert!(sent
        .iter()
        .any(|r| r.url.starts_with("https://d34o8swod1owfl.cloudfront.net/")));

    // A getReports example that matches is adopted: no create at all.
    let listed = sandbox_response(&model, "getReports", "200");
    let first = listed["reports"][0].clone();
    let spec = ReportSpec::new(Region::Na, first["reportType"].as_str().unwrap(), ["US"])
        .with_window(
            first["dataStartTime"].as_str().unwrap(),
            first["dataEndTime"].as_str().unwrap(),
        )
        .adopting_existing();
    let mut answers = sandbox_answers(&model);
    let (sent, end) = drive(job(spec), |request: &HttpRequest| {
        if request.url.contains("/reports?") {
            let mut listed = listed.clone();
            listed["reports"][0]["marketplaceIds"] = json!(["ATVPDKIKX0DER"]);
            return (200, listed.to_string().into_bytes());
        }
        answers(request)
    });
    assert!(end.is_ok(), "{end:?}");
    assert!(!sent
        .iter()
        .any(|r| r.method == reportflow::Method::Post && r.url.contains("sellingpartnerapi")));
    assert!(sent.iter().any(|r| r.url.ends_with("/reports/ReportId1")));

    // The 400 examples: typed rejections quoting Amazon's message.
    for (operation, status) in [
        ("createReport", "400"),
        ("getReport", "400"),
        ("getReportDocument", "400"),
    ] {
        let refusal = sandbox_response(&model, operation, status);
        let mut answers = sandbox_answers(&model);
        let (_, end) = drive(
            job(amazon_sp_api::sample_report_spec(START)),
            |request: &HttpRequest| {
                let (id, _) = if request.url.contains("sellingpartnerapi") {
                    check_request(&model, request)
                } else {
                    (String::new(), Vec::new())
                };
                if id == operation {
                    return (400, refusal.to_string().into_bytes());
                }
                answers(request)
            },
        );
        let error = end.expect_err("rejected");
        assert_eq!(error.kind(), ErrorKind::Rejected, "{operation}: {error}");
        assert!(
            error.to_string().contains("Invalid input"),
            "{operation}: {error}"
        );
    }
}
