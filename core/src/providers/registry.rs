//! The one place the job meets the providers: [`JobSpec`] and
//! [`Credentials`] (one variant per provider), the snapshot's machine, and
//! the dispatch from the job to a provider's [`Machine`]. All of it is
//! expanded from the provider list in [`crate::provider`], so no other file
//! matches on providers.

use serde::Serialize;

use super::driver::Machine;
use super::vocabulary::{Cx, Reply, Step};
use crate::action::Phase;
use crate::config::JobConfig;
use crate::error::{ConfigError, RestoreError};
use crate::provider::{for_each_provider, Provider};
use crate::providers::contract::Protocol;
use crate::rate::TokenBucket;
use crate::time::Millis;

macro_rules! define_registry {
    ($($variant:ident $module:ident $name:literal $doc:literal,)*) => {
        /// Which report to fetch, and from which provider.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(tag = "provider")]
        #[non_exhaustive]
        pub enum JobSpec {
            $(
                #[doc = $doc]
                #[cfg(feature = $name)]
                #[serde(rename = $name)]
                $variant(super::$module::ReportSpec),
            )*
        }

        crate::json_fields::deserialize_tagged! {
            JobSpec, tag = "provider", fields = Verbatim;
            $( #[cfg(feature = $name)] $name => $variant(super::$module::ReportSpec), )*
        }


        impl JobSpec {
            /// The provider the spec is for.
            pub const fn provider(&self) -> Provider {
                match self {
                    $(#[cfg(feature = $name)] Self::$variant(_) => Provider::$variant,)*
                }
            }
        }

        /// Credentials for the job's provider. Never serialized; `Debug`
        /// redacts.
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum Credentials {
            $(
                #[doc = $doc]
                #[cfg(feature = $name)]
                $variant(super::$module::Credentials),
            )*
        }

        crate::json_fields::deserialize_tagged! {
            Credentials, tag = "provider", fields = Verbatim;
            $( #[cfg(feature = $name)] $name => $variant(super::$module::Credentials), )*
        }


        impl Credentials {
            /// The provider the credentials are for.
            pub const fn provider(&self) -> Provider {
                match self {
                    $(#[cfg(feature = $name)] Self::$variant(_) => Provider::$variant,)*
                }
            }
        }

        /// A provider machine as a snapshot holds it: no credentials.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(tag = "provider")]
        pub(crate) enum SavedMachine {
            $(
                #[cfg(feature = $name)]
                #[serde(rename = $name)]
                $variant(Machine<super::$module::Flow>),
            )*
        }

        /// A [`SavedMachine`] written from the running machine, without the
        /// copy: what [`Machine::persistable`] clears (secrets, the link,
        /// the call in flight) is never serialized, so the JSON is the same
        /// (the simulator harness checks it at every snapshot it persists).
        #[derive(Serialize)]
        #[serde(tag = "provider")]
        pub(crate) enum SavedMachineRef<'a> {
            $(
                #[cfg(feature = $name)]
                #[serde(rename = $name)]
                $variant(&'a Machine<super::$module::Flow>),
            )*
        }

        /// A provider machine with the credentials it was built for: the
        /// pairing is by type, so a machine cannot hold another provider's
        /// credentials.
        #[derive(Debug)]
        pub(crate) enum BoundMachine {
            $(
                #[cfg(feature = $name)]
                $variant(Machine<super::$module::Flow>, super::$module::Credentials),
            )*
        }

        impl BoundMachine {
            /// A machine for `spec`, with its credentials checked.
            pub(crate) fn new(
                spec: JobSpec,
                config: &JobConfig,
                credentials: Credentials,
                now: Millis,
            ) -> Result<Self, ConfigError> {
                match (spec, credentials) {
                    $(
                        #[cfg(feature = $name)]
                        (JobSpec::$variant(spec), Credentials::$variant(credentials)) => {
                            bind(Machine::new(spec, config, now)?, credentials)
                                .map(|(machine, credentials)| Self::$variant(machine, credentials))
                        }
                    )*
                    // Unreachable in a build with one provider.
                    #[allow(unreachable_patterns)]
                    (spec, credentials) => Err(ConfigError::CredentialsMismatch {
                        spec: spec.provider(),
                        credentials: credentials.provider(),
                    }),
                }
            }

            /// A saved machine, checked (it is untrusted data), with the
            /// host's credentials.
            pub(crate) fn restore(
                saved: SavedMachine,
                credentials: Credentials,
                now: Millis,
            ) -> Result<Self, RestoreError> {
                match (saved, credentials) {
                    $(
                        #[cfg(feature = $name)]
                        (SavedMachine::$variant(machine), Credentials::$variant(credentials)) => {
                            machine.check_restored(now)?;
                            Ok(bind(machine, credentials)
                                .map(|(machine, credentials)| Self::$variant(machine, credentials))?)
                        }
                    )*
                    #[allow(unreachable_patterns)]
                    (saved, credentials) => Err(ConfigError::CredentialsMismatch {
                        spec: saved.provider(),
                        credentials: credentials.provider(),
                    }.into()),
                }
            }

            /// The machine without secrets, for a snapshot.
            pub(crate) fn saved(&self) -> SavedMachine {
                match self {
                    $(#[cfg(feature = $name)] Self::$variant(machine, _) => SavedMachine::$variant(machine.persistable()),)*
                }
            }

            /// The machine as [`Self::saved`] writes it, borrowed.
            pub(crate) fn saved_ref(&self) -> SavedMachineRef<'_> {
                match self {
                    $(#[cfg(feature = $name)] Self::$variant(machine, _) => SavedMachineRef::$variant(machine),)*
                }
            }

            pub(crate) const fn provider(&self) -> Provider {
                match self {
                    $(#[cfg(feature = $name)] Self::$variant(..) => Provider::$variant,)*
                }
            }

            pub(crate) fn phase(&self) -> Phase {
                match self {
                    $(#[cfg(feature = $name)] Self::$variant(machine, _) => machine.phase(),)*
                }
            }

            pub(crate) fn report_id(&self) -> Option<&str> {
                match self {
                    $(#[cfg(feature = $name)] Self::$variant(machine, _) => machine.report_id(),)*
                }
            }

            pub(crate) fn next(&mut self, cx: &mut Cx<'_>) -> Step {
                match self {
                    $(#[cfg(feature = $name)] Self::$variant(machine, credentials) => machine.next(cx, credentials),)*
                }
            }

            pub(crate) fn on_reply(&mut self, cx: &mut Cx<'_>, reply: Reply) {
                match self {
                    $(#[cfg(feature = $name)] Self::$variant(machine, _) => machine.on_reply(cx, reply),)*
                }
            }

            pub(crate) fn budgets_in_flight(&self) -> Vec<TokenBucket> {
                match self {
                    $(#[cfg(feature = $name)] Self::$variant(machine, _) => machine.budgets_in_flight(),)*
                }
            }

            pub(crate) fn rate_budget(&self, name: &str) -> Option<&TokenBucket> {
                match self {
                    $(#[cfg(feature = $name)] Self::$variant(machine, _) => machine.rate_budget(name),)*
                }
            }

            pub(crate) fn defer(&mut self, now: Millis, until: Millis) {
                match self {
                    $(#[cfg(feature = $name)] Self::$variant(machine, _) => machine.defer(now, until),)*
                }
            }
        }

        crate::json_fields::deserialize_tagged! {
            SavedMachine, tag = "provider", fields = Verbatim;
            $( #[cfg(feature = $name)] $name => $variant(Machine<super::$module::Flow>), )*
        }


        impl SavedMachine {
            const fn provider(&self) -> Provider {
                match self {
                    $(#[cfg(feature = $name)] Self::$variant(_) => Provider::$variant,)*
                }
            }
        }
    };
}
for_each_provider!(define_registry);

/// Checks the credentials and hands the machine what the host supplied
/// beside them.
fn bind<P: Protocol>(
    mut machine: Machine<P>,
    credentials: P::Credentials,
) -> Result<(Machine<P>, P::Credentials), ConfigError> {
    P::check_credentials(&credentials)?;
    machine.install(&credentials);
    Ok((machine, credentials))
}
