//! Every request the Yandex Market machine emits, for every report kind of
//! the official spec, checked against that spec: the multi-file OpenAPI in
//! `shared/specs/yandex-market/` (beside the repository), loaded with its
//! `$ref`s resolved. Checked: the operation exists with that method and path
//! (path parameters against their schemas), every query parameter is
//! declared and valid (enums), required ones are present, the body
//! validates against the operation's schema (required fields, types,
//! enums, formats, bounds, array rules, no undeclared fields), and the
//! security scheme's header is sent. Response parsing is checked on answers
//! built from the spec's own schemas and examples.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use common::schema::validate;
use common::{answer, first_send};
use reportflow::providers::yandex_market::{
    ReportFormat, ReportKind, ReportLanguage, ReportSpec, SourceType,
};
use reportflow::providers::Provider;
use reportflow::sim::yandex_market;
use reportflow::{
    Action, Error, Event, HttpRequest, JobConfig, JobSpec, Millis, Outcome, ReportFailure,
    ReportJob,
};

const START: Millis = Millis(1_709_251_200_000);

fn spec_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/specs/yandex-market");
    assert!(
        dir.join("openapi.yaml").is_file(),
        "the official spec is expected at {}",
        dir.display()
    );
    dir
}

// A test may read the spec from disk; the library never does.
#[allow(clippy::disallowed_methods)]
fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Replaces every `$ref` (relative file references) with the referenced
/// document, resolved in turn. Siblings of a `$ref` other than descriptions
/// (e.g. `nullable`) are kept.
fn resolve(value: &Value, base: &Path, depth: usize) -> Value {
    assert!(depth < 40, "$ref nesting too deep at {}", base.display());
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let target = base.join(reference);
                let loaded = load(&target);
                let mut resolved =
                    resolve(&loaded, target.parent().expect("a directory"), depth + 1);
                if let Value::Object(resolved_map) = &mut resolved {
                    for (key, sibling) in map {
                        if key != "$ref" && key != "description" {
                            resolved_map.insert(key.clone(), resolve(sibling, base, depth + 1));
                        }
                    }
                }
                return resolved;
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), resolve(v, base, depth + 1)))
                    .collect(),
            )
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| resolve(v, base, depth + 1)).collect())
        }
        other => other.clone(),
    }
}

/// The spec's operations: `(path template, method) → operation`, resolved.
fn operations() -> BTreeMap<(String, String), Value> {
    let dir = spec_dir();
    let root = load(&dir.join("openapi.yaml"));
    let mut out = BTreeMap::new();
    for (path, item) in root["paths"].as_object().expect("paths") {
        let item = resolve(item, &dir, 0);
        for (method, operation) in item.as_object().expect("a path item") {
            out.insert(
                (path.clone(), method.to_ascii_uppercase()),
                operation.clone(),
            );
        }
    }
    out
}

fn schema_of_body(operation: &Value) -> &Value {
    &operation["requestBody"]["content"]["application/json"]["schema"]
}

fn response_schema<'a>(operation: &'a Value, status: &str) -> &'a Value {
    &operation["responses"][status]["content"]["application/json"]["schema"]
}

/// An instance of `schema` built from its examples, enums and formats.
fn example(schema: &Value) -> Value {
    if let Some(value) = schema.get("example") {
        return value.clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(all) = schema["allOf"].as_array() {
        let mut merged = Map::new();
        for part in all {
            if let Value::Object(object) = example(part) {
                merged.extend(object);
            }
        }
        return Value::Object(merged);
    }
    match schema["type"].as_str() {
        Some("object") | None if schema["properties"].is_object() => Value::Object(
            schema["properties"]
                .as_object()
                .expect("properties")
                .iter()
                .map(|(k, v)| (k.clone(), example(v)))
                .collect(),
        ),
        Some("array") => json!([example(&schema["items"])]),
        Some("integer") => json!(schema["minimum"].as_i64().unwrap_or(1).max(1)),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("string") => match schema["format"].as_str() {
            Some("date") => json!("2025-08-22"),
            Some("date-time") => json!("2025-08-22T10:00:00+03:00"),
            _ => json!("a1b2c3"),
        },
        _ => Value::Null,
    }
}

/// The query and path parameters an operation declares, by name.
fn parameters(operation: &Value) -> BTreeMap<String, Value> {
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| (p["name"].as_str().unwrap_or_default().to_owned(), p.clone()))
        .collect()
}

/// Splits a URL into its path (after the sandbox-free origin) and query pairs.
fn split(url: &str) -> (String, Vec<(String, String)>) {
    let rest = url
        .strip_prefix(reportflow::providers::yandex_market::API_ORIGIN)
        .expect("the API origin");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let pairs = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (path.to_owned(), pairs)
}

/// Matches a concrete path against a template; returns the path parameters.
fn match_template(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    if t.len() != p.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (a, b) in t.iter().zip(&p) {
        if let Some(name) = a.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            params.insert(name.to_owned(), (*b).to_owned());
        } else if a != b {
            return None;
        }
    }
    Some(params)
}

/// Checks one request against the spec; returns the problems found.
fn check_request(ops: &BTreeMap<(String, String), Value>, request: &HttpRequest) -> Vec<String> {
    let mut errors = Vec::new();
    let (path, query) = split(&request.url);
    let found = ops.iter().find_map(|((template, method), op)| {
        (method == request.method.as_str())
            .then(|| match_template(template, &path).map(|params| (template, op, params)))
            .flatten()
    });
    let Some((template, operation, path_params)) = found else {
        return vec![format!(
            "{} {path} is not an operation of the spec",
            request.method.as_str()
        )];
    };
    let declared = parameters(operation);
    for (name, value) in &path_params {
        let schema = &declared[name]["schema"];
        let parsed = if schema["type"] == json!("integer") {
            value.parse::<i64>().map_or(json!(value), |n| json!(n))
        } else {
            json!(value)
        };
        validate(
            schema,
            &parsed,
            &format!("{template} path {name}"),
            &mut errors,
        );
    }
    for (name, value) in &query {
        match declared.get(name).filter(|p| p["in"] == json!("query")) {
            Some(param) => validate(
                &param["schema"],
                &json!(value),
                &format!("query {name}"),
                &mut errors,
            ),
            None => errors.push(format!(
                "query parameter {name} is not declared for {template}"
            )),
        }
    }
    for (name, param) in &declared {
        if param["in"] == json!("query")
            && param["required"] == json!(true)
            && !query.iter().any(|(k, _)| k == name)
        {
            errors.push(format!("required query parameter {name} is missing"));
        }
    }
    let body = request.body.expose();
    match schema_of_body(operation) {
        Value::Null => {
            if !body.is_empty() {
                errors.push(format!("{template} takes no body"));
            }
        }
        schema => {
            let value: Value = serde_json::from_slice(body).expect("a JSON body");
            validate(schema, &value, "body", &mut errors);
            if request
                .header("content-type")
                .map(|v| v.expose().to_owned())
                .as_deref()
                != Some("application/json")
            {
                errors.push("Content-Type is not application/json".to_owned());
            }
        }
    }
    // Security: the ApiKey scheme's header.
    if request.header("api-key").is_none() {
        errors.push("no Api-Key header".to_owned());
    }
    errors
}

/// The formats and parameters worth trying for a kind.
fn variants(kind: ReportKind, ops: &BTreeMap<(String, String), Value>) -> Vec<ReportSpec> {
    let operation = ops
        .values()
        .find(|op| op["operationId"] == json!(kind.operation_id()))
        .expect("the operation");
    let params = parameters(operation);
    let formats: Vec<ReportFormat> = match params.get("format") {
        Some(p)
            if p["schema"]["enum"]
                .as_array()
                .is_some_and(|e| e.contains(&json!("CSV"))) =>
        {
            vec![ReportFormat::File, ReportFormat::Csv, ReportFormat::Json]
        }
        _ => vec![ReportFormat::File],
    };
    let mut out = Vec::new();
    for format in formats {
        let base = ReportSpec::new(yandex_market::sample_request(kind, START), format);
        out.push(base.clone());
        if params.contains_key("language") {
            out.push(base.clone().with_language(ReportLanguage::En));
        }
        if params.contains_key("sourceType") {
            out.push(base.clone().with_source_type(SourceType::Advertiser));
        }
    }
    if params.get("format").is_some_and(|p| {
        p["schema"]["enum"]
            .as_array()
            .is_some_and(|e| e.contains(&json!("A4")))
    }) {
        let mut labels = ReportSpec::new(
            yandex_market::sample_request(kind, START),
            ReportFormat::File,
        );
        labels.page_format = Some(reportflow::providers::yandex_market::PageFormat::A9Horizontally);
        out.push(labels);
    }
    out
}

fn job(spec: ReportSpec) -> ReportJob {
    ReportJob::new(
        JobSpec::YandexMarket(spec),
        JobConfig::default(),
        yandex_market::credentials(),
        START,
    )
    .expect("a valid job")
}

#[test]
fn the_spec_and_the_kinds_list_the_same_operations() {
    let ops = operations();
    let generate: Vec<&str> = ops
        .values()
        .filter_map(|op| op["operationId"].as_str())
        .filter(|id| id.starts_with("generate"))
        .collect();
    assert_eq!(generate.len(), ReportKind::ALL.len());
    for kind in ReportKind::ALL {
        let found = ops
            .iter()
            .find(|(_, op)| op["operationId"] == json!(kind.operation_id()));
        let ((path, method), op) =
            found.unwrap_or_else(|| panic!("{} is not in the spec", kind.operation_id()));
        assert_eq!(path, kind.spec_path());
        assert_eq!(method, "POST");
        let schema = op["requestBody"]["content"]["application/json"]["schema"].clone();
        assert!(schema.is_object(), "{}", kind.name());
        let limit = &op["x-resource-limit-config"]["none"];
        assert_eq!(
            u64::from(kind.default_limit().amount),
            limit["amount"].as_u64().expect("amount"),
            "{}",
            kind.name()
        );
        // The window, which the simulator's quota of the kind uses too.
        let unit_ms = match limit["period"].as_str() {
            Some("minutes") => 60_000,
            Some("hours") => 3_600_000,
            other => panic!("{}: period {other:?}", kind.name()),
        };
        assert_eq!(
            kind.default_limit().period_ms,
            unit_ms * limit["period-duration"].as_u64().expect("period-duration"),
            "{}",
            kind.name()
        );
    }
}

#[test]
fn every_generate_request_of_every_kind_conforms() {
    let ops = operations();
    let mut checked = 0;
    for kind in ReportKind::ALL {
        for spec in variants(*kind, &ops) {
            let label = format!("{} {:?}", kind.name(), spec.format);
            let mut job = job(spec);
            let request = first_send(&mut job, START);
            let errors = check_request(&ops, &request);
            assert!(errors.is_empty(), "{label}: {errors:#?}");
            checked += 1;
        }
    }
    assert!(checked >= ReportKind::ALL.len() * 2, "{checked}");
}

#[test]
fn info_requests_conform_and_spec_answers_parse() {
    let ops = operations();
    let generate_op = ops
        .values()
        .find(|op| op["operationId"] == json!("generateUnitedOrdersReport"))
        .expect("op");
    let info_op = ops
        .values()
        .find(|op| op["operationId"] == json!("getReportInfo"))
        .expect("op");
    let generated = example(response_schema(generate_op, "200"));
    let mut problems = Vec::new();
    validate(
        response_schema(generate_op, "200"),
        &generated,
        "example",
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:?}");
    let report_id = generated["result"]["reportId"]
        .as_str()
        .expect("reportId")
        .to_owned();

    let info_schema = response_schema(info_op, "200");
    let statuses =
        info_schema["allOf"][1]["properties"]["result"]["properties"]["status"]["enum"].clone();
    let subs =
        info_schema["allOf"][1]["properties"]["result"]["properties"]["subStatus"]["enum"].clone();
    let statuses: Vec<String> = serde_json::from_value(statuses).expect("status enum");
    let mut subs: Vec<Option<String>> = serde_json::from_value::<Vec<String>>(subs)
        .expect("subStatus enum")
        .into_iter()
        .map(Some)
        .collect();
    subs.push(None);
    for source in [None, Some(SourceType::Advertiser)] {
        for status in &statuses {
            for sub in &subs {
                // sourceType rides along on info calls of kinds that take it.
                let spec = match source {
                    Some(source) => ReportSpec::new(
                        yandex_market::sample_request(ReportKind::BoostConsolidated, START),
                        ReportFormat::Csv,
                    )
                    .with_source_type(source),
                    None => yandex_market::sample_report_spec(START),
                };
                let mut job = job(spec);
                let create = first_send(&mut job, START);
                let (events, action) = answer(&mut job, START, create.id, 200, &generated);
                assert!(
                    events.contains(&Event::ReportCreated {
                        report_id: report_id.clone()
                    }),
                    "{events:?}"
                );
                let Action::Wait { until, .. } = action else {
                    panic!("{action:?}")
                };
                let info = first_send(&mut job, until);
                let errors = check_request(&ops, &info);
                assert!(errors.is_empty(), "{errors:#?}");
                assert!(info.url.contains(&report_id));
                // The spec's answer for this status and sub-status.
                let mut answer_body = example(info_schema);
                answer_body["result"]["status"] = json!(status);
                answer_body["result"]["file"] = json!("https://files.example/report.zip");
                match sub {
                    Some(sub) => answer_body["result"]["subStatus"] = json!(sub),
                    None => {
                        answer_body["result"]
                            .as_object_mut()
                            .expect("result")
                            .remove("subStatus");
                    }
                }
                let mut problems = Vec::new();
                validate(info_schema, &answer_body, "info example", &mut problems);
                assert!(problems.is_empty(), "{problems:?}");
                let (events, action) = answer(&mut job, until, info.id, 200, &answer_body);
                let label = format!("{status}/{sub:?}");
                match (status.as_str(), sub.as_deref()) {
                    (_, Some("NO_DATA")) => assert!(
                        matches!(&action, Action::Done(s) if s.outcome == Outcome::NoData),
                        "{label}: {action:?}"
                    ),
                    (_, Some("TOO_LARGE")) => assert!(
                        matches!(
                            &action,
                            Action::Failed(Error::ReportFailed {
                                failure: ReportFailure::TooLarge,
                                ..
                            })
                        ),
                        "{label}: {action:?}"
                    ),
                    // DONE/RESOURCE_NOT_FOUND with a file is a partial
                    // report, downloaded like any DONE (below).
                    (s, Some("RESOURCE_NOT_FOUND")) if s != "DONE" => assert!(
                        matches!(
                            &action,
                            Action::Failed(Error::ReportFailed {
                                failure: ReportFailure::ResourceNotFound,
                                ..
                            })
                        ),
                        "{label}: {action:?}"
                    ),
                    ("FAILED", _) => assert!(
                        matches!(
                            &action,
                            Action::Failed(Error::ReportFailed {
                                failure: ReportFailure::Fatal,
                                ..
                            })
                        ),
                        "{label}: {action:?}"
                    ),
                    ("DONE", _) => {
                        assert!(
                            events
                                .iter()
                                .any(|e| matches!(e, Event::LinkObtained { .. })),
                            "{label}: {events:?}"
                        );
                        let Action::Send(download) = action else {
                            panic!("{label}: {action:?}")
                        };
                        assert_eq!(download.url, "https://files.example/report.zip");
                        assert!(
                            download.headers.is_empty(),
                            "no credentials to the file host"
                        );
                    }
                    _ => assert!(matches!(action, Action::Wait { .. }), "{label}: {action:?}"),
                }
            }
        }
    }
}

#[test]
fn the_spec_error_answers_become_typed_errors() {
    let ops = operations();
    let generate_op = ops
        .values()
        .find(|op| op["operationId"] == json!("generateUnitedOrdersReport"))
        .expect("op");
    let doc_example = load(&spec_dir().join("examples/error-unauthorized.doc-example.json"));
    for status in ["400", "401", "403", "404", "420", "500"] {
        let schema = response_schema(generate_op, status);
        assert!(schema.is_object(), "{status} has a schema");
        let body = if status == "401" {
            doc_example.clone()
        } else {
            example(schema)
        };
        let mut problems = Vec::new();
        validate(schema, &body, status, &mut problems);
        assert!(problems.is_empty(), "{status}: {problems:?}");
        let mut job = job(yandex_market::sample_report_spec(START));
        let create = first_send(&mut job, START);
        let (_, action) = answer(
            &mut job,
            START,
            create.id,
            status.parse().expect("status"),
            &body,
        );
        let code = body["errors"][0]["code"].as_str().expect("code").to_owned();
        match (status, action) {
            (
                "400" | "401" | "403" | "404",
                Action::Failed(Error::Rejected {
                    code: Some(got),
                    detail,
                    ..
                }),
            ) => {
                assert_eq!(got, code);
                if status == "401" {
                    assert!(detail.contains("Api-Key token is invalid"), "{detail}");
                }
            }
            ("420" | "500", Action::Wait { until, .. }) => assert!(until > START, "{status} waits"),
            (status, other) => panic!("{status}: {other:?}"),
        }
    }
    // The machine's provider name is the spec's.
    assert_eq!(Provider::YandexMarket.as_str(), "yandex-market");
}

#[test]
fn extra_body_fields_go_out_as_given_and_are_judged_by_the_spec() {
    let ops = operations();
    let base = ReportSpec::new(
        yandex_market::sample_request(ReportKind::UnitedOrders, START),
        ReportFormat::Csv,
    );
    // A field the schema declares (and the sample body leaves out): the
    // request still conforms, with the field in the body.
    let declared = base.clone().with_body_field("promoId", json!("cf-2024-03"));
    let request = first_send(&mut job(declared), START);
    let errors = check_request(&ops, &request);
    assert!(errors.is_empty(), "{errors:#?}");
    let body: Value = serde_json::from_slice(request.body.expose()).expect("JSON");
    assert_eq!(body["promoId"], "cf-2024-03");
    // A field it does not declare goes out too (the job does not judge
    // extras), and the spec check names it.
    let undeclared = base.with_body_field("promoCode", json!("X"));
    let errors = check_request(&ops, &first_send(&mut job(undeclared), START));
    assert!(
        errors.iter().any(|e| e.contains("promoCode")),
        "{errors:#?}"
    );
}

#[test]
fn resource_not_found_without_a_file_still_fails() {
    let mut job = job(yandex_market::sample_report_spec(START));
    let create = first_send(&mut job, START);
    let generated =
        json!({"status": "OK", "result": {"reportId": "r-1", "estimatedGenerationTime": 1000}});
    let (_, action) = answer(&mut job, START, create.id, 200, &generated);
    let Action::Wait { until, .. } = action else {
        panic!("{action:?}")
    };
    let info = first_send(&mut job, until);
    let done = json!({"status": "OK", "result": {"status": "DONE", "subStatus": "RESOURCE_NOT_FOUND", "generationRequestedAt": "2024-03-01T00:00:00Z"}});
    let (_, action) = answer(&mut job, until, info.id, 200, &done);
    assert!(
        matches!(
            &action,
            Action::Failed(Error::ReportFailed {
                failure: ReportFailure::ResourceNotFound,
                ..
            })
        ),
        "{action:?}"
    );
}
