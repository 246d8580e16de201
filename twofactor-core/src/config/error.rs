//! The one error of configuration: every refusal names the variable to fix.

use crate::store::StoreError;
use crate::verifier::BuildError;

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable has a value that cannot be used.
    #[error("{var}: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What is wrong (never the value of a secret).
        reason: String,
    },
    /// A variable the chosen setup needs is not set.
    #[error("{var} must be set {why}")]
    Missing {
        /// The variable.
        var: &'static str,
        /// For what.
        why: &'static str,
    },
    /// The store could not be reached at start-up.
    #[error("the store at TWOFACTOR_REDIS_URL could not be used")]
    Store(#[source] StoreError),
    /// The PostgreSQL store (`TWOFACTOR_DATABASE_URL`) could not be used at start-up.
    #[error("the store at TWOFACTOR_DATABASE_URL could not be used")]
    DatabaseStore(#[source] StoreError),
    /// The engine could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
}
