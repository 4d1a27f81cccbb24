//! Amazon Ads Reporting v3 against Amazon's OpenAPI document
//! (`shared/specs/amazon-ads-reporting-v3/OfflineReport_prod_3p.json`,
//! beside the repository) and the report-type pages next to it:
//! - every create the machine emits, for every Sponsored Display report
//!   type, each grouping and both time units with every column the type
//!   allows, names the spec's operation (method, path, request media type,
//!   required headers) and its body validates against
//!   `CreateAsyncReportRequest` (types, required fields, enums, no
//!   undeclared field);
//! - every API request of whole runs (status polls included) names an
//!   operation of the spec with its required headers;
//! - the report-type table matches the spec's examples and the docs pages;
//! - the spec's own answers (created, pending, completed, failed, errors)
//!   are parsed into the right steps.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Map, Value};

use common::schema::validate;
use common::{answer, first_send};
use reportflow::providers::amazon_ads_v3::{
    AdProduct, Credentials, ReportFilter, ReportSpec, ReportType, TimeUnit,
};
use reportflow::providers::Provider;
use reportflow::sim::{amazon_ads_v3, FaultPlan, Harness, Sandbox, SandboxConfig};
use reportflow::{
    Action, Error, ErrorKind, HttpRequest, JobConfig, JobSpec, Method, Millis, ReportFailure,
    ReportJob, WaitReason,
};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);

fn spec_dir() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/specs/amazon-ads-reporting-v3"
    ))
}

// A test may read the spec from disk; the library never does.
#[allow(clippy::disallowed_methods)]
fn read(relative: &str) -> String {
    let path = spec_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The spec with every `#/components/schemas/…` reference replaced by the
/// schema it names.
fn openapi() -> Value {
    let raw: Value = serde_json::from_str(&read("OfflineReport_prod_3p.json")).expect("JSON");
    let schemas = raw["components"]["schemas"].clone();
    resolve(&raw, &schemas, 0)
}

/// `depth` counts the references followed (a cycle would never end).
fn resolve(value: &Value, schemas: &Value, depth: usize) -> Value {
    assert!(depth < 20, "$ref nesting too deep");
    match value {
        Value::Object(map) => match map.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let name = reference
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
                resolve(&schemas[name], schemas, depth + 1)
            }
            None => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), resolve(v, schemas, depth)))
                    .collect(),
            ),
        },
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| resolve(v, schemas, depth)).collect())
        }
        other => other.clone(),
    }
}

const CREATE_TYPE: &str = "application/vnd.createasyncreportrequest.v3+json";

fn operation<'a>(api: &'a Value, method: &str, template: &str) -> &'a Value {
    let op = &api["paths"][template][method];
    assert!(op.is_object(), "no {method} {template} in the spec");
    op
}

/// The spec's path template a request's path matches, with its method.
fn template_of(request: &HttpRequest) -> (&'static str, &'static str) {
    let path = request
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
        .unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default();
    let method = match request.method {
        Method::Post => "post",
        Method::Get => "get",
        other => panic!("unexpected method {other:?}"),
    };
    if path.ends_with("/reporting/reports") {
        (method, "/reporting/reports")
    } else if path.contains("/reporting/reports/") {
        (method, "/reporting/reports/{reportId}")
    } else {
        panic!("{path} is no operation of the spec")
    }
}

/// Method, path, required headers and (for the create) media type and body.
fn check_request(api: &Value, request: &HttpRequest) -> Vec<String> {
    let (method, template) = template_of(request);
    let op = operation(api, method, template);
    let mut errors = Vec::new();
    assert_eq!(
        request.endpoint,
        format!("{} {template}", method.to_uppercase())
    );
    for parameter in op["parameters"].as_array().into_iter().flatten() {
        if parameter["in"] == "header" && parameter["required"] == true {
            let name = parameter["name"].as_str().unwrap();
            if !request
                .headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case(name))
            {
                errors.push(format!("{template}: required header {name} missing"));
            }
        }
    }
    // One of Scope / Amazon-Ads-AccountId identifies the account.
    if !request
        .headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("Amazon-Advertising-API-Scope"))
    {
        errors.push(format!("{template}: no Amazon-Advertising-API-Scope"));
    }
    let content_type = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-type"))
        .map(|h| h.value.expose().to_owned());
    if method == "post" {
        let media = op["requestBody"]["content"].as_object().expect("a body");
        let declared = content_type.unwrap_or_default();
        match media.get(&declared) {
            None => errors.push(format!("Content-Type `{declared}` is not the spec's")),
            Some(content) => {
                let body: Value = serde_json::from_slice(request.body.expose()).expect("JSON");
                validate(&content["schema"], &body, "body", &mut errors);
            }
        }
    }
    errors
}

fn credentials() -> reportflow::Credentials {
    // A current token: the first request is the API call itself.
    reportflow::Credentials::AmazonAdsV3(
        Credentials::new(amazon_ads_v3::CLIENT_ID, "secret", "Atzr|refresh")
            .with_access_token("Atza|token", None),
    )
}

fn create_of(spec: ReportSpec) -> HttpRequest {
    let mut job = ReportJob::new(
        JobSpec::AmazonAdsV3(spec),
        JobConfig::default(),
        credentials(),
        START,
    )
    .expect("a valid job");
    first_send(&mut job, START)
}

fn sd_types() -> Vec<&'static ReportType> {
    ReportType::ALL
        .iter()
        .filter(|t| t.ad_product == AdProduct::SponsoredDisplay)
        .collect()
}

/// Every column a type allows under `groups` with `unit`.
fn all_columns(kind: &ReportType, groups: &[&str], unit: TimeUnit) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    let group_columns = groups
        .iter()
        .flat_map(|g| kind.group(g).unwrap().columns.iter());
    for column in kind.columns.unwrap().iter().chain(group_columns) {
        let excluded = match unit {
            TimeUnit::Daily => *column == "startDate" || *column == "endDate",
            _ => *column == "date",
        };
        if !excluded && !columns.iter().any(|c| c == column) {
            columns.push((*column).to_owned());
        }
    }
    columns
}

#[test]
fn every_sponsored_display_create_conforms_to_the_spec() {
    let api = openapi();
    let mut checked = 0;
    for kind in sd_types() {
        let mut groupings: Vec<Vec<&str>> = kind.group_by.iter().map(|g| vec![g.name]).collect();
        if kind.group_by.len() > 1 {
            groupings.push(kind.group_by.iter().map(|g| g.name).collect());
        }
        for groups in groupings {
            for unit in [TimeUnit::Daily, TimeUnit::Summary] {
                let mut spec = ReportSpec::new(
                    amazon_ads_v3::sample_report_spec(START).region,
                    amazon_ads_v3::PROFILE_ID,
                    kind.id,
                    groups.iter().map(|g| (*g).to_owned()).collect(),
                    all_columns(kind, &groups, unit),
                    unit,
                    "2024-02-01",
                    "2024-02-29",
                )
                .with_name(format!("{} {groups:?} {unit:?}", kind.id));
                // A filter wherever every grouping supports one.
                if let Some(filter) = kind.group(groups[0]).unwrap().filters.first() {
                    spec = spec.with_filters(vec![ReportFilter::new(
                        filter.field,
                        filter.values.iter().map(|v| (*v).to_owned()).collect(),
                    )]);
                }
                let request = create_of(spec);
                let errors = check_request(&api, &request);
                assert!(
                    errors.is_empty(),
                    "{} {groups:?} {unit:?}: {errors:?}",
                    kind.id
                );
                let body: Value = serde_json::from_slice(request.body.expose()).unwrap();
                assert_eq!(body["configuration"]["adProduct"], "SPONSORED_DISPLAY");
                assert_eq!(body["configuration"]["format"], "GZIP_JSON");
                checked += 1;
            }
        }
    }
    assert_eq!(sd_types().len(), 6, "six Sponsored Display report types");
    assert!(checked >= 24, "{checked} creates checked");
}

#[test]
fn every_request_of_whole_runs_names_a_spec_operation() {
    let api = openapi();
    for faults in ["", "throttle,expired-link,expired-token,duplicate-425"] {
        let sandbox = Sandbox::new(
            SandboxConfig::default()
                .with_rows(5)
                .with_faults(FaultPlan::parse(faults).unwrap()),
        );
        let job = ReportJob::new(
            amazon_ads_v3::sample_spec(START),
            sandbox.job_config(Provider::AmazonAdsV3),
            amazon_ads_v3::credentials(),
            START,
        )
        .unwrap();
        let run = Harness::new(job, sandbox, START).drive().unwrap();
        assert!(run.summary().is_some(), "{faults}: {:?}", run.outcome);
        let api_calls: Vec<&HttpRequest> = run
            .requests
            .iter()
            .filter(|r| r.url.contains("/reporting/"))
            .collect();
        assert!(api_calls.len() >= 2);
        for request in api_calls {
            let errors = check_request(&api, request);
            assert!(
                errors.is_empty(),
                "{faults}: {} {errors:?}",
                request.endpoint
            );
        }
    }
}

/// The spec's request examples of `adProduct`.
fn examples(api: &Value, product: &str) -> Vec<(String, Value)> {
    api["paths"]["/reporting/reports"]["post"]["requestBody"]["content"][CREATE_TYPE]["examples"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, e)| e["value"]["configuration"]["adProduct"] == product)
        .map(|(name, e)| (name.clone(), e["value"].clone()))
        .collect()
}

fn spec_of(example: &Value) -> ReportSpec {
    let configuration = &example["configuration"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    ReportSpec::new(
        amazon_ads_v3::sample_report_spec(START).region,
        "1",
        configuration["reportTypeId"].as_str().unwrap(),
        strings(&configuration["groupBy"]),
        strings(&configuration["columns"]),
        TimeUnit::parse(configuration["timeUnit"].as_str().unwrap()).unwrap(),
        example["startDate"].as_str().unwrap(),
        example["endDate"].as_str().unwrap(),
    )
}

#[test]
fn the_report_type_table_matches_the_spec_examples_and_the_docs() {
    let api = openapi();
    let sd = examples(&api, "SPONSORED_DISPLAY");
    assert_eq!(sd.len(), 7, "the spec's Sponsored Display examples");
    let mut seen = BTreeSet::new();
    for (name, example) in &sd {
        let spec = spec_of(example);
        assert_eq!(spec.validate(), Ok(()), "{name}");
        // The machine's create for it is the example's configuration.
        let request = create_of(spec.clone());
        let body: Value = serde_json::from_slice(request.body.expose()).unwrap();
        assert_eq!(body["configuration"], example["configuration"], "{name}");
        seen.insert(spec.report_type_id);
    }
    let table: BTreeSet<String> = sd_types().iter().map(|t| t.id.to_owned()).collect();
    assert_eq!(
        seen, table,
        "every SD type of the table has a spec example and back"
    );
    // Sponsored Products and Brands examples are accepted too.
    for product in ["SPONSORED_PRODUCTS", "SPONSORED_BRANDS"] {
        for (name, example) in examples(&api, product) {
            assert_eq!(spec_of(&example).validate(), Ok(()), "{name}");
        }
    }
    // Every SD column, grouping and limit of the table is on the type's page
    // (or in the spec's example, for the two columns only it names).
    let spec_text = read("OfflineReport_prod_3p.json");
    for kind in sd_types() {
        let page = read(&format!(
            "docs/en-us/guides/reporting/v3/report-types/{}.md",
            kind.page
        ));
        assert!(page.contains(&format!("`{}`", kind.id)), "{}", kind.id);
        assert!(
            page.contains(&format!("{} days", kind.max_days)),
            "{}",
            kind.id
        );
        let columns = kind
            .columns
            .unwrap()
            .iter()
            .chain(kind.group_by.iter().flat_map(|g| g.columns.iter()));
        for column in columns {
            let linked = format!("[{column}](guides/reporting/v3/columns");
            assert!(
                page.contains(&linked) || spec_text.contains(&format!("\"{column}\"")),
                "{}: {column}",
                kind.id
            );
        }
        for group in kind.group_by {
            assert!(
                page.contains(&format!("Group by `{}`", group.name)),
                "{}",
                group.name
            );
            for filter in group.filters {
                assert!(page.contains(&format!(
                    "`{}` (values: {})",
                    filter.field,
                    filter.values.join(", ")
                )));
            }
        }
    }
}

/// A job past its create, polling report `id`.
fn polling_job() -> (ReportJob, HttpRequest) {
    let mut job = ReportJob::new(
        JobSpec::AmazonAdsV3(amazon_ads_v3::sample_report_spec(START)),
        JobConfig::default(),
        credentials(),
        START,
    )
    .unwrap();
    let create = first_send(&mut job, START);
    let api = openapi();
    let created = &api["paths"]["/reporting/reports"]["post"]["responses"]["200"]["content"]
        ["application/vnd.createasyncreportresponse.v3+json"];
    let body = created["examples"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["value"]
        .clone();
    let mut errors = Vec::new();
    validate(&created["schema"], &body, "create 200", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    let (_, action) = answer(&mut job, START, create.id, 200, &body);
    let Action::Wait { until, reason } = action else {
        panic!("{action:?}")
    };
    assert_eq!(reason, WaitReason::PollBackoff);
    let poll = first_send(&mut job, until);
    assert_eq!(poll.endpoint, "GET /reporting/reports/{reportId}");
    assert!(poll.url.ends_with(body["reportId"].as_str().unwrap()));
    (job, poll)
}

fn get_example(api: &Value, status: &str, name: &str) -> Value {
    let content =
        &api["paths"]["/reporting/reports/{reportId}"]["get"]["responses"][status]["content"];
    let (_, media) = content.as_object().unwrap().iter().next().unwrap();
    let body = media["examples"][name]["value"].clone();
    // The error examples give `code` as a number, against their own schema
    // (string): only the reports are validated.
    if status == "200" {
        let mut errors = Vec::new();
        validate(&media["schema"], &body, name, &mut errors);
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    body
}

#[test]
fn the_spec_answers_parse_into_the_right_steps() {
    let api = openapi();
    let now = Millis(START.as_u64() + 60_000);

    let (mut job, poll) = polling_job();
    let pending = get_example(&api, "200", "GetReportResponseForPendingReport");
    let (_, action) = answer(&mut job, now, poll.id, 200, &pending);
    assert!(
        matches!(
            action,
            Action::Wait {
                reason: WaitReason::PollBackoff,
                ..
            }
        ),
        "{action:?}"
    );

    let (mut job, poll) = polling_job();
    let failed = get_example(&api, "200", "GetReportResponseForFailedReport");
    let (_, action) = answer(&mut job, now, poll.id, 200, &failed);
    match action {
        Action::Failed(Error::ReportFailed {
            failure, detail, ..
        }) => {
            assert_eq!(failure, ReportFailure::Fatal);
            assert!(
                detail.contains(failed["failureReason"].as_str().unwrap()),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }

    // The completed example's url expired in 2022 (its urlExpiresAt): the
    // job asks the status again for a fresh url, never a new report.
    let completed = get_example(&api, "200", "GetReportResponseForCompletedReport");
    let (mut job, poll) = polling_job();
    let (_, action) = answer(&mut job, now, poll.id, 200, &completed);
    match action {
        Action::Send(request) => {
            assert_eq!(
                request.endpoint, "GET /reporting/reports/{reportId}",
                "a fresh url"
            );
        }
        other => panic!("{other:?}"),
    }

    for (status, name, kind) in [
        ("400", "GetReportBadInputsResponse", ErrorKind::Rejected),
        (
            "404",
            "GetReportWithNonExistentReportIdResponse",
            ErrorKind::ReportFailed,
        ),
    ] {
        let (mut job, poll) = polling_job();
        let body = get_example(&api, status, name);
        let (_, action) = answer(&mut job, now, poll.id, status.parse().unwrap(), &body);
        match action {
            Action::Failed(error) => {
                assert_eq!(error.kind(), kind, "{error}");
                assert!(error.to_string().contains(body["detail"].as_str().unwrap()));
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn a_completed_answer_with_a_live_url_downloads_it_without_api_headers() {
    let api = openapi();
    let mut completed = get_example(&api, "200", "GetReportResponseForCompletedReport");
    let (mut job, poll) = polling_job();
    let now = Millis(START.as_u64() + 60_000);
    let map: &mut Map<String, Value> = completed.as_object_mut().unwrap();
    map.insert("urlExpiresAt".into(), json!("2024-03-01T01:00:00.000Z"));
    let url = map["url"].as_str().unwrap().to_owned();
    let (_, action) = answer(&mut job, now, poll.id, 200, &completed);
    let Action::Send(download) = action else {
        panic!("{action:?}")
    };
    assert_eq!(download.url, url);
    assert!(download.headers.is_empty(), "{:?}", download.headers);
}
