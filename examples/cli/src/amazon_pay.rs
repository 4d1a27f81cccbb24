//! `reportflow amazon-pay schedules list|get|ensure|cancel`: Amazon Pay
//! report schedules through the same job, host loop and signer as `fetch
//! amazon-pay`. The job delivers a JSON array of `ReportSchedule` objects;
//! this command prints it as a table or, with `--json`, one object.

use std::ops::ControlFlow;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use reportflow::providers::amazon_pay::{ReportSpec, Task};
use reportflow::providers::Provider;
use reportflow::{Event, JobConfig, JobSpec, ReportJob};
use reportflow_host::blocking::{drive, Step, Transport};
use reportflow_host::wall_clock;
use serde_json::{json, Value};

use crate::providers::AmazonPayKey;
use crate::{EXIT_REPORT_FAILED, EXIT_USAGE};

/// Flags of `amazon-pay`.
#[derive(Debug, Args)]
pub(crate) struct AmazonPayArgs {
    #[command(subcommand)]
    command: AmazonPayCommand,
}

#[derive(Debug, Subcommand)]
enum AmazonPayCommand {
    /// Report schedules: Amazon creates a report of the type at every
    /// period (fetch them with `fetch amazon-pay --latest` or `--since`).
    Schedules(SchedulesArgs),
}

/// Flags of `amazon-pay schedules`.
#[derive(Debug, Args)]
struct SchedulesArgs {
    #[command(subcommand)]
    operation: Operation,
    /// API origin of a simulator (the first URL `reportflow sim` prints):
    /// requests go to URL/amazon-pay/…; without a key, the simulator's own
    /// signs.
    #[arg(long, global = true, value_name = "URL", help_heading = "Connection")]
    base_url: Option<String>,
    /// Print one JSON object (`outcome`, `status`, `schedules` or `message`)
    /// instead of a table.
    #[arg(long, global = true, help_heading = "Output")]
    json: bool,
    #[command(flatten)]
    key: AmazonPayKey,
}

#[derive(Debug, Subcommand)]
enum Operation {
    /// List the schedules (of one report type, or all).
    List {
        /// Only this report type.
        #[arg(long, value_name = "TYPE")]
        report_type: Option<String>,
    },
    /// Show one schedule.
    Get {
        /// The reportScheduleId.
        id: String,
    },
    /// Make the report type's schedule this one: nothing is written when it
    /// already is, else it is created (replacing the type's schedule, as
    /// Amazon allows one per type). Safe to run again.
    Ensure {
        /// The report type, e.g. _GET_FLAT_FILE_OFFAMAZONPAYMENTS_SETTLEMENT_DATA_.
        #[arg(long, value_name = "TYPE")]
        report_type: String,
        /// ISO 8601 duration: PT5M PT15M PT30M PT1H PT2H PT4H PT8H PT12H
        /// PT24H PT84H P1D P2D P3D P7D P14D P15D P18D P30D.
        #[arg(long, value_name = "DURATION")]
        frequency: String,
        /// When the next report is created, ISO 8601 UTC; a schedule that
        /// has run a whole number of periods since still matches.
        #[arg(long, value_name = "INSTANT")]
        next_creation_time: Option<String>,
    },
    /// Cancel a schedule.
    Cancel {
        /// The reportScheduleId.
        id: String,
    },
}

impl Operation {
    fn spec(&self) -> ReportSpec {
        let (report_type, task) = match self {
            Self::List { report_type } => (report_type.clone(), Task::ListSchedules),
            Self::Get { id } => (
                None,
                Task::GetSchedule {
                    schedule_id: id.clone(),
                },
            ),
            Self::Ensure {
                report_type,
                frequency,
                next_creation_time,
            } => (
                Some(report_type.clone()),
                Task::EnsureSchedule {
                    frequency: frequency.clone(),
                    next_creation_time: next_creation_time.clone(),
                },
            ),
            Self::Cancel { id } => (
                None,
                Task::CancelSchedule {
                    schedule_id: id.clone(),
                },
            ),
        };
        ReportSpec::for_task(
            Default::default(),
            "",
            report_type.unwrap_or_default(),
            task,
        )
    }

    const fn name(&self) -> &'static str {
        match self {
            Self::List { .. } => "list",
            Self::Get { .. } => "get",
            Self::Ensure { .. } => "ensure",
            Self::Cancel { .. } => "cancel",
        }
    }
}

pub(crate) fn run(args: &AmazonPayArgs) -> ExitCode {
    let AmazonPayCommand::Schedules(args) = &args.command;
    let operation = args.operation.name();
    let fail = |code: u8, outcome: &str, message: String| {
        if args.json {
            crate::fetch::print_json_line(&json!({
                "outcome": outcome,
                "operation": operation,
                "exit": code,
                "message": message,
            }));
        } else {
            eprintln!("error: {message}");
        }
        ExitCode::from(code)
    };
    let base_url = args
        .base_url
        .as_deref()
        .map(|url| url.trim_end_matches('/'));
    let simulated = base_url.is_some();
    let spec = match args.key.apply(args.operation.spec(), simulated) {
        Ok(spec) => spec,
        Err(message) => return fail(EXIT_USAGE, "usage_error", message),
    };
    let signer = match args.key.signer(simulated) {
        Ok(signer) => signer,
        Err(message) => return fail(EXIT_USAGE, "usage_error", message),
    };
    let now = wall_clock();
    let mut config = JobConfig::default();
    if let Some(url) = base_url {
        config.base_url = Some(format!("{url}/{}", Provider::AmazonPay.as_str()));
    }
    let credentials = reportflow::Credentials::AmazonPay(
        reportflow::providers::amazon_pay::Credentials::host_signed(),
    );
    let mut job = match ReportJob::new(JobSpec::AmazonPay(spec), config, credentials, now) {
        Ok(job) => job,
        Err(error) => return fail(EXIT_USAGE, "usage_error", error.to_string()),
    };
    let mut transport = Transport::new().with_signer(signer);
    let mut document = Vec::new();
    let mut status = None;
    let mut sign_failed = None;
    let result = drive(&mut job, &mut transport, |_, step| {
        match step {
            Step::Event(Event::Data(chunk)) => document.extend_from_slice(&chunk.bytes),
            Step::Event(Event::ReportStatus { status: text }) => status = Some(text.clone()),
            Step::SignFailed { reason } => {
                sign_failed = Some(reason.to_owned());
                return ControlFlow::Break(());
            }
            _ => {}
        }
        ControlFlow::Continue(())
    });
    if let Some(reason) = sign_failed {
        return fail(EXIT_USAGE, "usage_error", reason);
    }
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => return fail(EXIT_REPORT_FAILED, "failed", error.to_string()),
    };
    let schedules: Vec<Value> = match serde_json::from_slice(&document) {
        Ok(schedules) => schedules,
        Err(error) => {
            return fail(
                EXIT_REPORT_FAILED,
                "failed",
                format!("the job delivered no schedule list: {error}"),
            )
        }
    };
    if args.json {
        crate::fetch::print_json_line(&json!({
            "outcome": "done",
            "operation": operation,
            "exit": 0,
            "id": summary.report_id,
            "status": status,
            "requests": summary.requests,
            "schedules": schedules,
        }));
    } else {
        print_table(&schedules);
        if let Some(status) = status {
            println!("schedule {status}");
        }
    }
    ExitCode::SUCCESS
}

fn print_table(schedules: &[Value]) {
    let field = |s: &Value, name: &str| s[name].as_str().unwrap_or("-").to_owned();
    let rows: Vec<[String; 4]> = schedules
        .iter()
        .map(|s| {
            [
                field(s, "reportScheduleId"),
                field(s, "reportType"),
                field(s, "scheduleFrequency"),
                field(s, "nextReportCreationTime"),
            ]
        })
        .collect();
    let header = ["ID", "REPORT TYPE", "FREQUENCY", "NEXT CREATION"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    if rows.is_empty() {
        println!("(no schedules)");
    }
}
