//! `reportflow sim`: the simulators as a loopback HTTP server.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Args;
use reportflow::providers::Provider;
use reportflow::sim::{Fault, FaultPlan, SandboxConfig};
use reportflow_host::sim_server::{SimServer, HOSTS_PATH, REQUEST_LOG_PATH};

use crate::providers::PROVIDERS;
use crate::{EXIT_LOCAL_IO, EXIT_USAGE};

/// Flags of `sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: String,
    /// Seeds report contents, ids and fault positions: the same seed serves
    /// the same bytes, with or without faults.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Inject a fault (repeatable): NAME fires once, NAME:N the first N
    /// times, NAME:always every time.
    #[arg(long = "fault", value_name = "NAME[:N|:always]", long_help = fault_help())]
    faults: Vec<String>,
    /// How long a report takes to generate, in ms.
    #[arg(long, value_name = "MS")]
    generation_ms: Option<u64>,
    /// Rows per report.
    #[arg(long, value_name = "N")]
    rows: Option<u32>,
}

impl SimArgs {
    /// The sandbox these flags describe.
    pub(crate) fn sandbox_config(&self) -> Result<SandboxConfig, String> {
        let plan = if self.faults.is_empty() {
            FaultPlan::none()
        } else {
            FaultPlan::parse(&self.faults.join(",")).map_err(|e| e.to_string())?
        };
        let mut config = SandboxConfig::default()
            .with_seed(self.seed)
            .with_faults(plan);
        if let Some(generation_ms) = self.generation_ms {
            config = config.with_generation_ms(generation_ms);
        }
        if let Some(rows) = self.rows {
            config = config.with_rows(rows);
        }
        Ok(config)
    }
}

/// The `--fault` help: each fault and what it really answers at each
/// provider that implements it, from the simulators' own tables so it
/// cannot fall out of date.
fn fault_help() -> String {
    let mut help = String::from(
        "Inject a fault (repeatable, or comma-separated): NAME fires once, NAME:N the first N times, \
         NAME:always every time. A fault waits for a simulator that implements it. Faults, and what \
         each provider's simulator answers:\n",
    );
    for fault in Fault::ALL {
        help.push_str(&format!("  {:<18} {}\n", fault.name(), fault.description()));
        for provider in Provider::ALL {
            if let Some(answer) = fault.answer(*provider) {
                help.push_str(&format!("      {:<14} {answer}\n", provider.as_str()));
            }
        }
    }
    help
}

pub(crate) fn run(args: &SimArgs) -> ExitCode {
    let config = match args.sandbox_config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("reportflow: invalid --fault: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let server = match SimServer::start(&args.addr, config) {
        Ok(server) => server,
        Err(error) => {
            eprintln!(
                "reportflow: cannot listen on {}: {error} — pick another --addr",
                args.addr
            );
            return ExitCode::from(EXIT_LOCAL_IO);
        }
    };
    let base_url = server.base_url().to_owned();
    let downloads = server.download_base_url().to_owned();
    // Scripts read the first line to find the server, so it goes out alone
    // and at once: the API origin (what `fetch --base-url` takes), a space,
    // the download host's origin.
    let mut stdout = io::stdout();
    if writeln!(stdout, "{base_url} {downloads}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(EXIT_LOCAL_IO);
    }
    eprintln!(
        "reportflow sim: APIs on {base_url}, report downloads on {downloads} \
         (hosts: {base_url}{HOSTS_PATH}, request log: {base_url}{REQUEST_LOG_PATH}); Ctrl-C stops"
    );
    for entry in PROVIDERS {
        let provider = entry.provider;
        eprintln!("  {provider:<12} {base_url}/{provider}");
        eprintln!(
            "               try: reportflow fetch {provider} --base-url {base_url} --out report.json \
             (uses the simulator's credentials)"
        );
    }
    server.wait();
    ExitCode::SUCCESS
}
