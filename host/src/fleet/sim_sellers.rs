//! Sellers on the simulators (features `fleet` and `sim`): one
//! [`SimServer`] per account, for tests and benchmarks of whole fleets.
//!
//! The simulators know one seller per provider, as a developer's sandbox
//! does, and a provider's quota is the seller's. Accounts that stand for
//! different sellers therefore each get their own simulators (their own
//! quotas, reports and request log); pointing them all at one server would
//! make them one seller with one quota.

use std::collections::HashMap;

use reportflow::sim::{self, SandboxConfig};
use reportflow::{Credentials, JobConfig, Millis, Provider};

use super::Accounts;
use crate::sim_server::SimServer;
use crate::Clock;

/// Accounts, each a seller with its own simulators on loopback.
pub struct SimSellers {
    servers: HashMap<String, SimServer>,
}

impl std::fmt::Debug for SimSellers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimSellers")
            .field("accounts", &self.servers.len())
            .finish_non_exhaustive()
    }
}

impl SimSellers {
    /// Starts simulators built from `config` on `clock` for each of
    /// `accounts`.
    pub fn start<'a>(
        accounts: impl IntoIterator<Item = &'a str>,
        config: &SandboxConfig,
        clock: Clock,
    ) -> std::io::Result<Self> {
        let mut servers = HashMap::new();
        for account in accounts {
            let server = SimServer::start_on("127.0.0.1:0", config.clone(), clock)?;
            servers.insert(account.to_owned(), server);
        }
        Ok(Self { servers })
    }

    /// `account`'s simulators.
    pub fn server(&self, account: &str) -> Option<&SimServer> {
        self.servers.get(account)
    }

    /// Requests any seller's simulators refused over a quota.
    pub fn quota_violations(&self) -> u32 {
        self.servers
            .values()
            .map(|server| server.with_sandbox(|sandbox| sandbox.quota_violations()))
            .sum()
    }
}

impl Accounts for SimSellers {
    /// The simulators' configuration for the provider: the machines' own
    /// polling and retry policies, as in production.
    fn job_config(&self, account: &str, provider: Provider) -> Result<JobConfig, String> {
        let server = self
            .servers
            .get(account)
            .ok_or_else(|| format!("no simulated seller {account}"))?;
        Ok(server.with_sandbox(|sandbox| sandbox.job_config(provider)))
    }

    fn credentials(&self, _account: &str, provider: Provider) -> Result<Credentials, String> {
        Ok(sim::sample_job(provider, Millis(0)).1)
    }
}
