//! Seeded, deterministic fault plans for the simulators.
//!
//! A [`FaultPlan`] lists faults and how often each fires. Every fault fires
//! at its first opportunities, in plan order, and each request suffers at
//! most one fault, so the same plan against the same job always breaks the
//! same requests in the same way.
//!
//! | name | opportunity | what the simulator does (Amazon Ads' terms; see [`Fault::answer`] for each provider's) |
//! |---|---|---|
//! | `throttle` | next provider API call | `429` with `Retry-After: 2` |
//! | `server-error` | next provider API call | `500` |
//! | `expired-token` | next provider API call | revokes every access token issued so far, then `401` |
//! | `reject-406` | next report creation | `406`, "Report date is too far in the past…" |
//! | `reject-422` | next report creation | `422`, invalid parameters |
//! | `report-failure` | next status poll | the report's status becomes `FAILURE` for good |
//! | `disconnect` | next report download | the transport drops the connection half-way through the body |
//! | `expired-link` | next report download | S3 answers `403` "Request has expired" |
//! | `corrupt-body` | next report download | one byte of the gzip body is flipped (position from the seed) |
//! | `truncated-gzip` | next report download | the gzip body is cut short but delivered as a complete response |
//! | `lost-answer` | next provider API call | (Lingxing) the call is handled but the connection drops before the answer; the gateway keeps the endpoint's token for 2 minutes |
//! | `plain-body` | next report creation | (Lingxing) the task's document is served uncompressed, `compression_algorithm: null` |
//! | `task-cancelled` | next status poll | (Lingxing) the task becomes `CANCELLED` (Amazon: no data) |
//! | `wrong-estimate` | next report creation | (Yandex) the report takes three times longer than its estimates say |
//! | `no-data` | next report creation | (Yandex) the report ends `DONE` with sub-status `NO_DATA` |
//! | `too-large` | next report creation | (Yandex) the report ends `FAILED` with sub-status `TOO_LARGE` |
//! | `malformed-envelope` | next provider API call | (Yandex) a cut JSON answer on 200, or an HTML 503 without the error envelope |
//! | `zip-bomb` | next report download | (Yandex) the archive holds a member that inflates a thousandfold |
//! | `zip-slip` | next report download | (Yandex) the archive holds a member named `../../evil.csv` |
//! | `partial-report` | next report creation | (Yandex) the report ends `DONE` with sub-status `RESOURCE_NOT_FOUND` and a file (a partial report) |
//! | `missing-md5` | next report download | (MWS) GetReport answers without its `Content-MD5` header |
//! | `no-generated-id` | next report creation | (MWS) the request ends `_DONE_` without `GeneratedReportId`; GetReportList names the report |
//! | `mislabelled-gzip` | next report creation | (SP-API) the document's `compressionAlgorithm` lies: `GZIP` on a plain body (odd firings), none on a gzip body (even) |
//!
//! Each simulator answers a fault in its provider's own terms: Lingxing's
//! `throttle` is body code `3001008` (or `103`) on HTTP 200, its
//! `report-failure` a `FATAL` task (see `sim::lingxing`).
//! [`Fault::answer`] says, per provider, what each fault really answers
//! (each simulator's `FAULT_ANSWERS` table), for help texts. A simulator that
//! does not implement a fault (it does not list it in its table, e.g.
//! [`amazon_ads::FAULT_ANSWERS`](super::amazon_ads::FAULT_ANSWERS)) neither fires nor uses
//! it up: the fault waits for an opportunity at a simulator that does.
//!
//! Text form (the CLI's `--fault` values): `NAME` (fires once), `NAME:N`
//! (the first N opportunities) or `NAME:always`; several separated by
//! commas, e.g. `throttle:3,corrupt-body:always`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Provider;

macro_rules! define_answers {
    ($($variant:ident $module:ident $name:literal $doc:literal,)*) => {
        /// Every fault `provider`'s simulator acts on, with what it answers,
        /// in documentation order of that simulator.
        pub fn fault_answers(provider: Provider) -> &'static [(Fault, &'static str)] {
            match provider {
                $(Provider::$variant => super::$module::FAULT_ANSWERS,)*
            }
        }
    };
}
crate::provider::for_each_provider!(define_answers);

/// One way a simulator can misbehave. See the module docs for when each
/// fires; [`Fault::name`] gives the stable kebab-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Fault {
    /// `throttle`: the next API call gets `429 Too Many Requests` with
    /// `Retry-After: 2`.
    Throttle,
    /// `server-error`: the next API call gets `500 Internal Server Error`.
    ServerError,
    /// `disconnect`: the next report download breaks off half-way through
    /// the body; the host sees a reset connection.
    Disconnect,
    /// `expired-link`: the next download link is refused with S3's `403`
    /// "Request has expired".
    ExpiredLink,
    /// `corrupt-body`: one byte of the next report body is flipped.
    CorruptBody,
    /// `truncated-gzip`: the next report body is cut short but delivered as a
    /// complete HTTP response.
    TruncatedGzip,
    /// `report-failure`: the next status poll finds the report `FAILURE`.
    ReportFailure,
    /// `expired-token`: every access token issued so far is revoked and the
    /// next API call gets `401`.
    ExpiredToken,
    /// `reject-406`: the next report creation gets `406` (report date too far
    /// in the past).
    #[serde(rename = "reject-406")]
    Reject406,
    /// `reject-422`: the next report creation gets `422` (invalid parameters).
    #[serde(rename = "reject-422")]
    Reject422,
    /// `lost-answer` (Lingxing): the next API call is handled, but the
    /// connection drops before the answer; the gateway keeps the endpoint's
    /// only token for 2 minutes.
    LostAnswer,
    /// `plain-body` (Lingxing): the next created task's document is plain,
    /// announced with `compression_algorithm: null`.
    PlainBody,
    /// `task-cancelled` (Lingxing): the next status poll finds the task
    /// `CANCELLED`, Amazon's "no data".
    TaskCancelled,
    /// `wrong-estimate` (Yandex): the next report takes three times longer
    /// than its `estimatedGenerationTime`s say.
    WrongEstimate,
    /// `no-data` (Yandex): the next report ends `DONE`/`NO_DATA`.
    NoData,
    /// `too-large` (Yandex): the next report ends `FAILED`/`TOO_LARGE`.
    TooLarge,
    /// `malformed-envelope` (Yandex): the next API call gets a cut JSON
    /// answer (odd firings) or an HTML 503 (even firings).
    MalformedEnvelope,
    /// `zip-bomb` (Yandex): the next archive downloaded is a zip bomb.
    ZipBomb,
    /// `zip-slip` (Yandex): the next archive downloaded has a `../` member.
    ZipSlip,
    /// `partial-report` (Yandex): the next report ends `DONE` with
    /// sub-status `RESOURCE_NOT_FOUND` and a file, a partial report.
    PartialReport,
    /// `missing-md5` (MWS): the next report body comes without its
    /// `Content-MD5` header.
    MissingMd5,
    /// `no-generated-id` (MWS): the next report request ends `_DONE_`
    /// without `GeneratedReportId`.
    NoGeneratedId,
    /// `mislabelled-gzip` (SP-API): the next report's document is labelled
    /// `GZIP` but plain (odd firings), or gzip without the label (even).
    MislabelledGzip,
    /// `duplicate-425` (Ads v3): the next report creation finds an identical
    /// report already processing (as if an earlier create's answer was
    /// lost) and gets `425` naming it.
    #[serde(rename = "duplicate-425")]
    Duplicate425,
    /// `lying-gzip-label` (Ads v3): the next report file is plain JSON
    /// served under its `.json.gz` name and a gzip `Content-Type`.
    LyingGzipLabel,
    /// `slow-report` (Ads v3): the next report created takes 3 hours to
    /// generate (virtual time in the harness).
    SlowReport,
}

/// Where a fault can fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opportunity {
    /// Any call to the provider's API (not the auth server, not the download host).
    ApiCall,
    /// A report creation that passed validation.
    Create,
    /// A status poll of a known report.
    StatusPoll,
    /// A report body about to be served.
    Download,
}

impl Fault {
    /// Every fault, in documentation order.
    pub const ALL: [Self; 26] = [
        Self::Throttle,
        Self::ServerError,
        Self::Disconnect,
        Self::ExpiredLink,
        Self::CorruptBody,
        Self::TruncatedGzip,
        Self::ReportFailure,
        Self::ExpiredToken,
        Self::Reject406,
        Self::Reject422,
        Self::LostAnswer,
        Self::PlainBody,
        Self::TaskCancelled,
        Self::WrongEstimate,
        Self::NoData,
        Self::TooLarge,
        Self::MalformedEnvelope,
        Self::ZipBomb,
        Self::ZipSlip,
        Self::PartialReport,
        Self::MissingMd5,
        Self::NoGeneratedId,
        Self::MislabelledGzip,
        Self::Duplicate425,
        Self::LyingGzipLabel,
        Self::SlowReport,
    ];

    /// The stable kebab-case name, e.g. `corrupt-body`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Throttle => "throttle",
            Self::ServerError => "server-error",
            Self::Disconnect => "disconnect",
            Self::ExpiredLink => "expired-link",
            Self::CorruptBody => "corrupt-body",
            Self::TruncatedGzip => "truncated-gzip",
            Self::ReportFailure => "report-failure",
            Self::ExpiredToken => "expired-token",
            Self::Reject406 => "reject-406",
            Self::Reject422 => "reject-422",
            Self::LostAnswer => "lost-answer",
            Self::PlainBody => "plain-body",
            Self::TaskCancelled => "task-cancelled",
            Self::WrongEstimate => "wrong-estimate",
            Self::NoData => "no-data",
            Self::TooLarge => "too-large",
            Self::MalformedEnvelope => "malformed-envelope",
            Self::ZipBomb => "zip-bomb",
            Self::ZipSlip => "zip-slip",
            Self::PartialReport => "partial-report",
            Self::MissingMd5 => "missing-md5",
            Self::NoGeneratedId => "no-generated-id",
            Self::MislabelledGzip => "mislabelled-gzip",
            Self::Duplicate425 => "duplicate-425",
            Self::LyingGzipLabel => "lying-gzip-label",
            Self::SlowReport => "slow-report",
        }
    }

    /// One line on what the fault does, in no provider's terms, for
    /// `--help` texts; [`Fault::answer`] says what each provider answers.
    pub const fn description(self) -> &'static str {
        match self {
            Self::Throttle => "next API call is throttled",
            Self::ServerError => "next API call fails on the server side",
            Self::Disconnect => "next report download breaks off half-way through the body",
            Self::ExpiredLink => "next download link is refused: 403 Request has expired",
            Self::CorruptBody => "one byte of the next report body is flipped",
            Self::TruncatedGzip => "next report body is cut short but delivered as complete",
            Self::ReportFailure => "next status poll finds the report failed, for good",
            Self::ExpiredToken => "access tokens are revoked; next API call is refused for its token",
            Self::Reject406 => "next report creation is refused (date too far in the past)",
            Self::Reject422 => "next report creation is refused (invalid parameters)",
            Self::LostAnswer => "(lingxing) next API call is handled but its answer is lost; the endpoint stays busy 2 minutes",
            Self::PlainBody => "(lingxing) next task's document is served uncompressed",
            Self::TaskCancelled => "(lingxing) next status poll finds the task CANCELLED (no data)",
            Self::WrongEstimate => "(yandex-market) next report takes 3x longer than its estimates say",
            Self::NoData => "(yandex-market) next report ends DONE with sub-status NO_DATA",
            Self::TooLarge => "(yandex-market) next report ends FAILED with sub-status TOO_LARGE",
            Self::MalformedEnvelope => "(yandex-market) next API call gets a cut JSON answer or an HTML 503",
            Self::ZipBomb => "(yandex-market) next archive downloaded is a zip bomb",
            Self::ZipSlip => "(yandex-market) next archive downloaded has a ../ member name",
            Self::PartialReport => "(yandex-market) next report is partial: DONE with sub-status RESOURCE_NOT_FOUND and a file",
            Self::MissingMd5 => "(amazon-mws) next report body comes without its Content-MD5 header",
            Self::NoGeneratedId => "(amazon-mws) next report request ends _DONE_ without GeneratedReportId",
            Self::MislabelledGzip => "(amazon-sp-api) next report's compression label lies (GZIP on a plain body, or none on a gzip one)",
            Self::Duplicate425 => "(amazon-ads-v3) next report creation is a duplicate of one already processing: 425 naming it",
            Self::LyingGzipLabel => "(amazon-ads-v3) next report file is plain JSON labelled gzip",
            Self::SlowReport => "(amazon-ads-v3) next report takes 3 hours to generate",
        }
    }

    /// What the simulator of `provider` answers when this fault fires, in
    /// that provider's own terms (e.g. Lingxing's `throttle`: HTTP 200 with
    /// body code `3001008` or `103`); `None` when that simulator does not
    /// act on the fault.
    ///
    /// ```
    /// use reportflow::providers::Provider;
    /// use reportflow::sim::Fault;
    ///
    /// assert!(Fault::Throttle.answer(Provider::Lingxing).is_some_and(|a| a.contains("3001008")));
    /// assert!(Fault::Throttle.answer(Provider::AmazonAds).is_some_and(|a| a.contains("429")));
    /// assert_eq!(Fault::ZipBomb.answer(Provider::AmazonAds), None);
    /// ```
    pub fn answer(self, provider: Provider) -> Option<&'static str> {
        fault_answers(provider)
            .iter()
            .find(|(fault, _)| *fault == self)
            .map(|(_, answer)| *answer)
    }

    /// The names of every fault, for error messages and help texts.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|f| f.name()).collect()
    }

    pub(crate) const fn opportunity(self) -> Opportunity {
        match self {
            Self::Throttle
            | Self::ServerError
            | Self::ExpiredToken
            | Self::LostAnswer
            | Self::MalformedEnvelope => Opportunity::ApiCall,
            Self::Reject406
            | Self::Reject422
            | Self::PlainBody
            | Self::WrongEstimate
            | Self::NoData
            | Self::TooLarge
            | Self::PartialReport
            | Self::NoGeneratedId
            | Self::MislabelledGzip
            | Self::Duplicate425
            | Self::SlowReport => Opportunity::Create,
            Self::ReportFailure | Self::TaskCancelled => Opportunity::StatusPoll,
            Self::Disconnect
            | Self::ExpiredLink
            | Self::CorruptBody
            | Self::TruncatedGzip
            | Self::ZipBomb
            | Self::ZipSlip
            | Self::MissingMd5
            | Self::LyingGzipLabel => Opportunity::Download,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = FaultParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        Self::ALL
            .into_iter()
            .find(|fault| fault.name() == text)
            .ok_or_else(|| FaultParseError::UnknownFault {
                name: text.to_owned(),
                valid: Self::names().join(", "),
            })
    }
}

/// How many opportunities a fault takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Times {
    /// The first `n` opportunities (at least 1).
    Count(u32),
    /// Every opportunity.
    Always,
}

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Always => f.write_str("always"),
        }
    }
}

/// Why a fault plan's text could not be parsed. The message lists the valid
/// names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FaultParseError {
    /// The name is not one of [`Fault::ALL`].
    #[error("unknown fault `{name}`; valid faults: {valid}")]
    UnknownFault {
        /// The name given.
        name: String,
        /// The valid names, comma-separated.
        valid: String,
    },
    /// The part after `:` is neither a positive count nor `always`.
    #[error("`{text}` after `{fault}:` is not a positive count or `always` (e.g. `{fault}:3`, `{fault}:always`)")]
    BadTimes {
        /// The fault named before the colon.
        fault: String,
        /// The text after the colon.
        text: String,
    },
    /// The plan text has an empty item (e.g. `throttle,,`).
    #[error("empty fault in `{text}`; write NAME, NAME:N or NAME:always, separated by commas")]
    Empty {
        /// The whole plan text.
        text: String,
    },
}

/// Which faults a simulator injects, and how often.
///
/// Faults fire at their first opportunities, in plan order; a request
/// suffers at most one fault. Parse from text with [`FaultPlan::parse`] or
/// [`str::parse`]; [`Display`](fmt::Display) gives the same text back.
///
/// ```
/// use reportflow::sim::{Fault, FaultPlan, Times};
///
/// let plan: FaultPlan = "throttle:3,corrupt-body:always".parse()?;
/// assert_eq!(plan.entries(), &[(Fault::Throttle, Times::Count(3)), (Fault::CorruptBody, Times::Always)]);
/// assert_eq!(plan.to_string(), "throttle:3,corrupt-body:always");
/// assert!("no-such-fault".parse::<FaultPlan>().unwrap_err().to_string().contains("server-error"));
/// # Ok::<(), reportflow::sim::FaultParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaultPlan {
    entries: Vec<(Fault, Times)>,
}

impl FaultPlan {
    /// A plan without faults.
    pub const fn none() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// The same plan with one more fault.
    #[must_use]
    pub fn with(mut self, fault: Fault, times: Times) -> Self {
        self.entries.push((fault, times));
        self
    }

    /// Adds a fault to the plan.
    pub fn push(&mut self, fault: Fault, times: Times) {
        self.entries.push((fault, times));
    }

    /// The faults in plan order.
    pub fn entries(&self) -> &[(Fault, Times)] {
        &self.entries
    }

    /// Whether the plan injects nothing.
    pub fn is_empty(&self) -> bool {
        self.entries
            .iter()
            .all(|(_, times)| *times == Times::Count(0))
    }

    /// How often `fault` fires in total (`None` for always).
    pub fn budget(&self, fault: Fault) -> Option<u32> {
        let mut total = 0u32;
        for (f, times) in &self.entries {
            if *f == fault {
                match times {
                    Times::Always => return None,
                    Times::Count(n) => total = total.saturating_add(*n),
                }
            }
        }
        Some(total)
    }

    /// Parses `NAME`, `NAME:N` or `NAME:always`, several separated by commas.
    /// An empty text is the empty plan.
    pub fn parse(text: &str) -> Result<Self, FaultParseError> {
        let mut plan = Self::none();
        if text.trim().is_empty() {
            return Ok(plan);
        }
        for item in text.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(FaultParseError::Empty {
                    text: text.to_owned(),
                });
            }
            let (name, times) = match item.split_once(':') {
                None => (item, Times::Count(1)),
                Some((name, times)) => {
                    let fault = name.trim();
                    let times = times.trim();
                    let parsed = if times.eq_ignore_ascii_case("always") {
                        Some(Times::Always)
                    } else {
                        times
                            .parse::<u32>()
                            .ok()
                            .filter(|n| *n > 0)
                            .map(Times::Count)
                    };
                    match parsed {
                        Some(times) => (fault, times),
                        None => {
                            // Name the fault problem first: a typo in the name is likelier.
                            fault.parse::<Fault>()?;
                            return Err(FaultParseError::BadTimes {
                                fault: fault.to_owned(),
                                text: times.to_owned(),
                            });
                        }
                    }
                }
            };
            plan.push(name.parse()?, times);
        }
        Ok(plan)
    }
}

impl FromStr for FaultPlan {
    type Err = FaultParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (fault, times)) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match times {
                Times::Count(1) => write!(f, "{fault}")?,
                times => write!(f, "{fault}:{times}")?,
            }
        }
        Ok(())
    }
}

impl From<Fault> for FaultPlan {
    fn from(fault: Fault) -> Self {
        Self::none().with(fault, Times::Count(1))
    }
}

/// A plan being consumed: remaining counts per entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FaultState {
    /// `(fault, remaining)`; `None` remaining means always.
    remaining: Vec<(Fault, Option<u32>)>,
    /// How many times each fault fired, by [`Fault::ALL`] index.
    fired: Vec<(Fault, u32)>,
}

impl FaultState {
    pub(crate) fn new(plan: &FaultPlan) -> Self {
        let remaining = plan
            .entries
            .iter()
            .map(|(fault, times)| {
                (
                    *fault,
                    match times {
                        Times::Always => None,
                        Times::Count(n) => Some(*n),
                    },
                )
            })
            .collect();
        Self {
            remaining,
            fired: Vec::new(),
        }
    }

    /// Takes the first fault of the plan that fires at `opportunity`, is
    /// implemented by the simulator answering (listed in its `answers`), and
    /// still has budget.
    pub(crate) fn take(
        &mut self,
        opportunity: Opportunity,
        answers: &[(Fault, &str)],
    ) -> Option<Fault> {
        let entry = self.remaining.iter_mut().find(|(fault, left)| {
            fault.opportunity() == opportunity
                && answers.iter().any(|(implemented, _)| implemented == fault)
                && !matches!(left, Some(0))
        })?;
        if let Some(n) = entry.1.as_mut() {
            *n -= 1;
        }
        let fault = entry.0;
        match self.fired.iter_mut().find(|(f, _)| *f == fault) {
            Some((_, count)) => *count = count.saturating_add(1),
            None => self.fired.push((fault, 1)),
        }
        Some(fault)
    }

    /// How many times `fault` has fired so far (its 0-based firing index
    /// before the current one is this minus one).
    pub(crate) fn fired(&self, fault: Fault) -> u32 {
        self.fired
            .iter()
            .find(|(f, _)| *f == fault)
            .map_or(0, |(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_simulator_says_once_what_each_of_its_faults_answers() {
        for provider in Provider::ALL {
            let answers = fault_answers(*provider);
            assert!(!answers.is_empty(), "{provider}");
            for (i, (fault, answer)) in answers.iter().enumerate() {
                assert!(!answer.is_empty(), "{provider} {fault}");
                assert!(
                    answers.iter().skip(i + 1).all(|(other, _)| other != fault),
                    "{provider} lists {fault} twice"
                );
            }
        }
    }

    #[test]
    fn answers_are_in_each_providers_own_terms() {
        let lingxing = |fault: Fault| fault.answer(Provider::Lingxing).unwrap_or_default();
        assert!(lingxing(Fault::Throttle).contains("\"3001008\""));
        assert!(lingxing(Fault::Throttle).contains("103"));
        assert!(lingxing(Fault::Throttle).contains("HTTP 200"));
        assert!(lingxing(Fault::ExpiredToken).contains("\"2001003\""));
        assert!(!lingxing(Fault::Throttle).contains("429"));
        assert!(Fault::Throttle
            .answer(Provider::YandexMarket)
            .is_some_and(|a| a.contains("420")));
        assert!(Fault::ExpiredToken
            .answer(Provider::AmazonAds)
            .is_some_and(|a| a.contains("401")));
        assert_eq!(Fault::TaskCancelled.answer(Provider::YandexMarket), None);
        // The provider-neutral line names no provider's status code.
        for fault in Fault::ALL {
            let line = fault.description();
            assert!(
                !["429", "401", "406", "422"]
                    .iter()
                    .any(|c| line.contains(c)),
                "{line}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for fault in Fault::ALL {
            assert_eq!(fault.name().parse::<Fault>(), Ok(fault));
            assert_eq!(
                serde_json::to_string(&fault).unwrap(),
                format!("\"{}\"", fault.name())
            );
        }
    }

    #[test]
    fn plans_parse_and_print() {
        let plan = FaultPlan::parse("throttle").unwrap();
        assert_eq!(plan.entries(), &[(Fault::Throttle, Times::Count(1))]);
        assert_eq!(plan.to_string(), "throttle");
        let plan = FaultPlan::parse(" throttle:3 , corrupt-body:ALWAYS").unwrap();
        assert_eq!(plan.to_string(), "throttle:3,corrupt-body:always");
        assert_eq!(plan.to_string().parse::<FaultPlan>().unwrap(), plan);
        assert_eq!(FaultPlan::parse("").unwrap(), FaultPlan::none());
    }

    #[test]
    fn bad_plans_are_typed_errors() {
        let err = FaultPlan::parse("thrtotle").unwrap_err();
        assert!(matches!(err, FaultParseError::UnknownFault { .. }));
        assert!(err.to_string().contains("truncated-gzip"), "{err}");
        assert!(matches!(
            FaultPlan::parse("throttle:0"),
            Err(FaultParseError::BadTimes { .. })
        ));
        assert!(matches!(
            FaultPlan::parse("throttle:x"),
            Err(FaultParseError::BadTimes { .. })
        ));
        assert!(matches!(
            FaultPlan::parse("oops:x"),
            Err(FaultParseError::UnknownFault { .. })
        ));
        assert!(matches!(
            FaultPlan::parse("throttle,,"),
            Err(FaultParseError::Empty { .. })
        ));
    }

    #[test]
    fn faults_fire_in_plan_order_within_their_budget() {
        let plan = FaultPlan::parse("server-error:2,throttle,corrupt-body:always").unwrap();
        let mut state = FaultState::new(&plan);
        let every: Vec<(Fault, &str)> = Fault::ALL.iter().map(|f| (*f, "")).collect();
        assert_eq!(
            state.take(Opportunity::ApiCall, &every),
            Some(Fault::ServerError)
        );
        assert_eq!(
            state.take(Opportunity::ApiCall, &every),
            Some(Fault::ServerError)
        );
        assert_eq!(
            state.take(Opportunity::ApiCall, &every),
            Some(Fault::Throttle)
        );
        assert_eq!(state.take(Opportunity::ApiCall, &every), None);
        assert_eq!(state.take(Opportunity::Create, &every), None);
        for _ in 0..10 {
            assert_eq!(
                state.take(Opportunity::Download, &every),
                Some(Fault::CorruptBody)
            );
        }
        assert_eq!(state.fired(Fault::CorruptBody), 10);
        // A simulator that does not implement a fault neither fires nor spends it.
        let mut state = FaultState::new(&FaultPlan::parse("zip-bomb,corrupt-body").unwrap());
        assert_eq!(
            state.take(Opportunity::Download, &[(Fault::CorruptBody, "")]),
            Some(Fault::CorruptBody)
        );
        assert_eq!(
            state.take(Opportunity::Download, &[(Fault::CorruptBody, "")]),
            None
        );
        assert_eq!(
            state.take(Opportunity::Download, &every),
            Some(Fault::ZipBomb)
        );
        assert_eq!(plan.budget(Fault::ServerError), Some(2));
        assert_eq!(plan.budget(Fault::CorruptBody), None);
    }
}
