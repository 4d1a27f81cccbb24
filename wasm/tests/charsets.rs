//! A report declared in a legacy charset, through a module built with the
//! core's `charsets` feature (decoded to UTF-8) and through one built
//! without it (refused: `records` / `charset_unavailable`, nothing
//! delivered); a UTF-8 report goes through either way.
//!
//! It drives the core as the module does, natively, with the answers of an
//! Amazon Ads Sponsored Display v2 report scripted by hand (the simulators
//! need `charsets`). `scripts/test.sh` runs it both ways: with the default
//! features, and with `--no-default-features --features amazon-ads` (what
//! `build.mjs --providers amazon-ads --no-charsets` builds).

use reportflow::providers::amazon_ads::{self, RecordType, Region, Tactic};
use reportflow::{
    Action, Credentials, Error, Event, Input, JobConfig, JobSpec, Millis, ReportJob, Summary,
};

const NOW: Millis = Millis(1_709_251_200_000);

/// "Café" in windows-1252, as a JSON array of one string.
const CAFE_1252: &[u8] = b"[\"Caf\xe9\"]";

/// Runs a job whose download answers with `content_type` and `body`; the
/// decoded bytes and how it ended.
fn run(content_type: &str, body: &[u8]) -> (Vec<u8>, Result<Summary, Error>) {
    let spec = JobSpec::AmazonAds(amazon_ads::ReportSpec::new(
        Region::Na,
        "3517604932071244",
        RecordType::Campaigns,
        "20240229",
        Tactic::T00020,
        vec!["impressions".to_owned()],
    ));
    let credentials = Credentials::AmazonAds(
        amazon_ads::Credentials::new("client", "secret", "Atzr|refresh")
            .with_access_token("Atza|access", Some(Millis(NOW.as_u64() + 3_600_000))),
    );
    let mut job = ReportJob::new(spec, JobConfig::default(), credentials, NOW).expect("a job");
    let mut now = NOW;
    let mut data = Vec::new();
    for _ in 0..100 {
        match job.poll(now) {
            Action::Send(request) => {
                let url = request.url.as_str();
                let (status, headers, answer): (u16, Vec<(String, String)>, Vec<u8>) =
                    if url.ends_with("/sd/campaigns/report") {
                        (
                            202,
                            json(),
                            br#"{"reportId":"r-1","status":"IN_PROGRESS"}"#.to_vec(),
                        )
                    } else if url.ends_with("/v2/reports/r-1") {
                        let answer = format!(
                            r#"{{"reportId":"r-1","status":"SUCCESS","fileSize":{}}}"#,
                            body.len()
                        );
                        (200, json(), answer.into_bytes())
                    } else if url.ends_with("/v2/reports/r-1/download") {
                        let location = "https://s3.example.com/r-1.json".to_owned();
                        (307, vec![("Location".to_owned(), location)], Vec::new())
                    } else if url.starts_with("https://s3.example.com/") {
                        let headers = vec![("Content-Type".to_owned(), content_type.to_owned())];
                        (200, headers, body.to_vec())
                    } else {
                        panic!("unexpected request {url}");
                    };
                let id = request.id;
                job.handle(
                    now,
                    Input::Head {
                        id,
                        status,
                        headers: &headers,
                    },
                )
                .expect("head");
                job.handle(now, Input::Chunk { id, bytes: &answer })
                    .expect("chunk");
                job.handle(now, Input::End { id }).expect("end");
            }
            Action::Wait { until, .. } => now = now.max(until),
            Action::Event(Event::Data(chunk)) => data.extend_from_slice(&chunk.bytes),
            Action::Event(Event::DataReset { .. }) => data.clear(),
            Action::Event(_) => {}
            Action::Done(summary) => return (data, Ok(summary)),
            Action::Failed(error) => return (data, Err(error)),
            other => panic!("unexpected action {other:?}"),
        }
    }
    panic!("the job did not end within 100 actions");
}

fn json() -> Vec<(String, String)> {
    vec![("Content-Type".to_owned(), "application/json".to_owned())]
}

#[test]
fn a_report_in_a_legacy_charset_is_decoded_only_by_a_build_with_charsets() {
    let (data, end) = run("application/json; charset=windows-1252", CAFE_1252);
    if cfg!(feature = "charsets") {
        let summary = end.expect("decoded");
        assert_eq!(String::from_utf8(data).expect("UTF-8"), "[\"Café\"]");
        assert_eq!(summary.rows, 1);
    } else {
        let error = end.expect_err("refused");
        assert!(
            matches!(&error, Error::Records(e) if e.kind() == "charset_unavailable"),
            "{error:?}"
        );
        assert!(error.to_string().contains("windows-1252"), "{error}");
        assert!(!error.is_retryable());
        assert_eq!(error.blame(), reportflow::Blame::Config);
        assert!(data.is_empty(), "nothing delivered");
    }
}

#[test]
fn a_utf8_report_goes_through_either_way() {
    let body = "[\"Café\"]".as_bytes();
    let (data, end) = run("application/json; charset=utf-8", body);
    assert_eq!(end.expect("done").rows, 1);
    assert_eq!(data, body);
}
