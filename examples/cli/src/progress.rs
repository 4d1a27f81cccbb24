//! Progress on stderr: a spinner naming the phase and the provider's status,
//! turning into a byte bar while the report downloads. Hidden when stderr is
//! not a terminal or with `--quiet`, so scripts and logs get clean output.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reportflow::providers::Provider;
use reportflow::{Event, Phase};

const SPINNER_TEMPLATE: &str = "{spinner} {prefix} {msg} ({elapsed})";
const BAR_TEMPLATE: &str = "{spinner} {prefix} downloading [{bar:30}] {bytes}/{total_bytes} {msg}";
const BAR_UNKNOWN_TOTAL_TEMPLATE: &str = "{spinner} {prefix} downloading {bytes} {msg}";

/// The progress display of one job.
pub(crate) struct ProgressView {
    bar: ProgressBar,
    phase: Phase,
    status: Option<String>,
    downloading: bool,
}

impl ProgressView {
    pub(crate) fn new(provider: Provider, quiet: bool) -> Self {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(style(SPINNER_TEMPLATE));
        bar.set_prefix(provider.as_str());
        bar.enable_steady_tick(Duration::from_millis(120));
        let view = Self {
            bar,
            phase: Phase::Creating,
            status: None,
            downloading: false,
        };
        view.show_phase();
        view
    }

    /// Prints a line above the bar (or plainly, when the bar is hidden).
    pub(crate) fn note(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    pub(crate) fn on_event(&mut self, event: &Event) {
        match event {
            Event::PhaseChanged { to, .. } => {
                self.phase = *to;
                if *to == Phase::Downloading {
                    self.start_download(None);
                } else {
                    self.stop_download();
                    self.show_phase();
                }
            }
            Event::ReportStatus { status } => {
                self.status = Some(status.clone());
                self.show_phase();
            }
            Event::ReportCreated { report_id } => {
                self.bar.set_message(format!("created report {report_id}"))
            }
            Event::Progress {
                bytes_in,
                bytes_total,
                ..
            } => {
                self.start_download(*bytes_total);
                self.bar.set_position(*bytes_in);
            }
            Event::DataReset { cause } => {
                self.bar.set_position(0);
                self.bar
                    .set_message(format!("(download voided: {cause}; starting again)"));
            }
            Event::Retrying {
                attempt,
                after_ms,
                cause,
            } => {
                self.bar.set_message(format!(
                    "{cause}; attempt {attempt} in {:.1} s",
                    *after_ms as f64 / 1000.0
                ));
            }
            Event::Throttled { bucket, .. } => self
                .bar
                .set_message(format!("throttled ({bucket}); waiting")),
            _ => {}
        }
    }

    /// A request goes out: whatever the last wait was about is over.
    pub(crate) fn on_sending(&self) {
        if !self.downloading {
            self.show_phase();
        }
    }

    /// Removes the display; the caller prints the outcome.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn show_phase(&self) {
        let status = self
            .status
            .as_deref()
            .map(|s| format!(" · {s}"))
            .unwrap_or_default();
        self.bar
            .set_message(format!("{}{status}", phase_label(self.phase)));
    }

    fn start_download(&mut self, total: Option<u64>) {
        if self.downloading && (total.is_none() || self.bar.length() == total) {
            return;
        }
        self.downloading = true;
        self.bar.set_length(total.unwrap_or(0));
        let template = if total.is_some() {
            BAR_TEMPLATE
        } else {
            BAR_UNKNOWN_TOTAL_TEMPLATE
        };
        self.bar.set_style(style(template));
        self.bar.set_message("");
    }

    fn stop_download(&mut self) {
        if self.downloading {
            self.downloading = false;
            self.bar.set_style(style(SPINNER_TEMPLATE));
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants; a bad one is a bug caught by the tests,
    // and the plain default style is a harmless fallback.
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ")
}

/// A short human name of a phase.
pub(crate) fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::Authorizing => "authorizing",
        Phase::Creating => "creating report",
        Phase::Polling => "waiting for report",
        Phase::ResolvingLink => "getting download link",
        Phase::Downloading => "downloading",
        Phase::Finished => "finished",
        _ => "working",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_valid() {
        for template in [SPINNER_TEMPLATE, BAR_TEMPLATE, BAR_UNKNOWN_TOTAL_TEMPLATE] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }
}
