//! A report declared in a legacy charset, through a module built with the
//! core's `charsets` feature (decoded to UTF-8) and through one built
//! without it: decoded by the decoder the host lends (the npm package lends
//! `TextDecoder` or encoding_rs from JavaScript), refused without one
//! (`records` / `charset_unavailable`, nothing delivered). A UTF-8 report
//! goes through either way.
//!
//! It drives the core as the module does, natively, with the answers of an
//! Amazon Ads Sponsored Display v2 report scripted by hand (the simulators
//! need `charsets`). `scripts/test.sh` runs it both ways: with the default
//! features, and with `--no-default-features --features amazon-ads` (what
//! `build.mjs` builds for `reportflow/amazon-ads`, natively: on wasm32 the
//! module lends JavaScript's decoders).

use reportflow::integrity::{Charset, ForeignDecodeFailed, ForeignDecoder, OpenForeignDecoder};
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
    run_lending(content_type, body, None)
}

/// `run`, with charset decoders lent to the job.
fn run_lending(
    content_type: &str,
    body: &[u8],
    lend: Option<OpenForeignDecoder>,
) -> (Vec<u8>, Result<Summary, Error>) {
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
    if let Some(open) = lend {
        job = job.with_foreign_charsets(open);
    }
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

/// A lent decoder that is easy to tell apart: Latin-1 with ASCII letters
/// upper-cased.
#[derive(Debug)]
struct Shouting;

impl ForeignDecoder for Shouting {
    fn decode(
        &mut self,
        bytes: &[u8],
        _last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ForeignDecodeFailed> {
        let text: String = bytes
            .iter()
            .map(|&b| char::from(b.to_ascii_uppercase()))
            .collect();
        out.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

/// A host that has no decoder for the charset.
#[derive(Debug)]
struct Missing;

impl ForeignDecoder for Missing {
    fn decode(&mut self, _: &[u8], _: bool, _: &mut Vec<u8>) -> Result<(), ForeignDecodeFailed> {
        Err(ForeignDecodeFailed)
    }
}

#[test]
fn lent_decoders_decode_where_the_build_has_none() {
    fn shouting(charset: Charset) -> Box<dyn ForeignDecoder> {
        assert_eq!(charset, Charset::Windows1252);
        Box::new(Shouting)
    }
    let (data, end) = run_lending(
        "application/json; charset=windows-1252",
        CAFE_1252,
        Some(shouting),
    );
    let summary = end.expect("decoded");
    assert_eq!(summary.rows, 1);
    let text = String::from_utf8(data).expect("UTF-8");
    if cfg!(feature = "charsets") {
        assert_eq!(text, "[\"Café\"]", "the build's own decoders come first");
    } else {
        assert_eq!(text, "[\"CAFé\"]", "the lent decoder decoded it");
    }
}

#[test]
fn a_lent_decoder_that_fails_fails_the_report_in_a_build_without_charsets() {
    let (data, end) = run_lending(
        "application/json; charset=shift_jis",
        b"[]",
        Some(|_| Box::new(Missing)),
    );
    if cfg!(feature = "charsets") {
        assert_eq!(end.expect("decoded by the build").rows, 0);
    } else {
        let error = end.expect_err("refused");
        assert!(
            matches!(&error, Error::Records(e) if e.kind() == "charset_unavailable"),
            "{error:?}"
        );
        assert!(!error.is_retryable());
        assert!(data.is_empty(), "nothing delivered");
    }
}
