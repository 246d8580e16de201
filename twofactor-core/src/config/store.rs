//! Where the engine keeps its records: in memory (the default), Redis (`TWOFACTOR_REDIS_URL`,
//! over TLS with `rediss://` and `TWOFACTOR_REDIS_CA_FILE`, as a cluster with
//! `TWOFACTOR_REDIS_CLUSTER`, with `TWOFACTOR_REDIS_WAIT_REPLICAS`) or PostgreSQL
//! (`TWOFACTOR_DATABASE_URL`, with `TWOFACTOR_DATABASE_SYNCHRONOUS_COMMIT`).
//!
//! The variables are checked together when read, before anything connects, so that a
//! contradiction (a CA without TLS, two stores, a cluster's seeds without the cluster switch)
//! is a start-up error naming the variable to fix. A URL may carry a password: it is kept as a
//! [`SecretString`] and no refusal ever repeats it. Each store is behind its feature; a URL of
//! a store left out of the build is refused naming the feature.

use std::path::PathBuf;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use super::env::{Env, invalid};
use super::error::ConfigError;
use crate::store::VerificationStore;

/// The store the engine keeps its records in.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StoreSettings {
    /// In this process's memory (the engine's default): nothing is shared between instances.
    Memory,
    /// Redis, from `TWOFACTOR_REDIS_URL`.
    Redis(RedisSettings),
    /// PostgreSQL, from `TWOFACTOR_DATABASE_URL`.
    Postgres(PostgresSettings),
}

/// The Redis store's settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisSettings {
    /// `TWOFACTOR_REDIS_URL` (it may carry a password): one URL, or with
    /// `TWOFACTOR_REDIS_CLUSTER=true` a cluster's seed URLs, comma-separated.
    pub url: SecretString,
    /// `TWOFACTOR_REDIS_CLUSTER` (default false): the Redis is a Redis Cluster.
    pub cluster: bool,
    /// `TWOFACTOR_REDIS_CA_FILE`: the CA (PEM) that verifies a `rediss://` server, instead of
    /// the system's roots. Checked when read: readable, with at least one certificate.
    pub ca_file: Option<PathBuf>,
    /// `TWOFACTOR_REDIS_WAIT_REPLICAS`: replica acknowledgements each Redis write waits for
    /// (default 0; see the Redis store's docs, "Replication").
    pub wait_replicas: Option<u32>,
}

/// The PostgreSQL store's settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PostgresSettings {
    /// `TWOFACTOR_DATABASE_URL` (it may carry a password).
    pub url: SecretString,
    /// `TWOFACTOR_DATABASE_SYNCHRONOUS_COMMIT` (default false): every PostgreSQL step waits
    /// for the server's `synchronous_commit`; false lets the counting steps skip the flush
    /// (see the PostgreSQL store's docs, "Durability").
    pub synchronous_commit: bool,
}

const REDIS_URL: &str = "TWOFACTOR_REDIS_URL";
const REDIS_CLUSTER: &str = "TWOFACTOR_REDIS_CLUSTER";
const REDIS_CA_FILE: &str = "TWOFACTOR_REDIS_CA_FILE";
const REDIS_WAIT: &str = "TWOFACTOR_REDIS_WAIT_REPLICAS";
const DATABASE_URL: &str = "TWOFACTOR_DATABASE_URL";
const DATABASE_SYNCHRONOUS_COMMIT: &str = "TWOFACTOR_DATABASE_SYNCHRONOUS_COMMIT";

impl StoreSettings {
    /// Reads and checks the store variables.
    pub(super) fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let redis_url = env.secret(REDIS_URL);
        let cluster = env.flag(REDIS_CLUSTER)?.unwrap_or(false);
        let ca_file = env.get(REDIS_CA_FILE).map(PathBuf::from);
        let wait_replicas = env.count(REDIS_WAIT)?;
        let redis = match redis_url {
            Some(url) => Some(RedisSettings {
                url,
                cluster,
                ca_file,
                wait_replicas,
            }),
            None => {
                for (set, var) in [
                    (cluster, REDIS_CLUSTER),
                    (ca_file.is_some(), REDIS_CA_FILE),
                    (wait_replicas.is_some(), REDIS_WAIT),
                ] {
                    if set {
                        return Err(invalid(var, "is set but TWOFACTOR_REDIS_URL is not"));
                    }
                }
                None
            }
        };
        if let Some(redis) = &redis {
            redis.check()?;
        }
        let database_url = env.secret(DATABASE_URL);
        let synchronous_commit = env.flag(DATABASE_SYNCHRONOUS_COMMIT)?;
        match &database_url {
            Some(url) => check_database(url, redis.is_some())?,
            None if synchronous_commit.is_some() => {
                return Err(invalid(
                    DATABASE_SYNCHRONOUS_COMMIT,
                    "is set but TWOFACTOR_DATABASE_URL is not",
                ));
            }
            None => {}
        }
        Ok(match (redis, database_url) {
            (Some(redis), _) => Self::Redis(redis),
            (None, Some(url)) => Self::Postgres(PostgresSettings {
                url,
                synchronous_commit: synchronous_commit.unwrap_or(false),
            }),
            (None, None) => Self::Memory,
        })
    }

    /// The shared store these settings describe, connected; `None` for the engine's own
    /// in-memory store.
    pub(super) async fn connect(&self) -> Result<Option<Arc<dyn VerificationStore>>, ConfigError> {
        match self {
            Self::Memory => Ok(None),
            Self::Redis(redis) => redis.connect().await.map(Some),
            Self::Postgres(postgres) => postgres.connect().await.map(Some),
        }
    }
}

impl RedisSettings {
    /// The seed URLs: the one URL, or with a cluster the comma-separated list.
    pub fn urls(&self) -> Vec<&str> {
        let text = self.url.expose_secret().trim();
        if self.cluster {
            text.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .collect()
        } else {
            vec![text]
        }
    }

    /// Checks the Redis variables together: each refusal names the variable to fix, and never
    /// shows a URL.
    fn check(&self) -> Result<(), ConfigError> {
        if self.cluster && !cfg!(feature = "redis-cluster") {
            return Err(invalid(
                REDIS_CLUSTER,
                "this build has no Redis Cluster support (enable the `redis-cluster` feature)",
            ));
        }
        let urls = self.urls();
        if urls.is_empty() {
            return Err(invalid(REDIS_URL, "lists no URL"));
        }
        // A comma may sit in a password; one followed by a scheme starts another URL.
        let several = |u: &str| {
            u.split(',').skip(1).any(|part| {
                let part = part.trim_start().to_ascii_lowercase();
                part.starts_with("redis://") || part.starts_with("rediss://")
            })
        };
        if !self.cluster && several(urls[0]) {
            return Err(invalid(
                REDIS_URL,
                "several URLs are a cluster's seeds: set TWOFACTOR_REDIS_CLUSTER=true",
            ));
        }
        let tls = urls.iter().filter(|u| is_tls_url(u)).count();
        if tls > 0 && !cfg!(feature = "redis-tls") {
            return Err(invalid(
                REDIS_URL,
                "this build has no TLS support for Redis (enable the `redis-tls` feature)",
            ));
        }
        if tls != 0 && tls != urls.len() {
            return Err(invalid(
                REDIS_URL,
                "the seed URLs mix rediss:// and redis://",
            ));
        }
        if let Some(path) = &self.ca_file {
            if tls == 0 {
                return Err(invalid(
                    REDIS_CA_FILE,
                    "is set but TWOFACTOR_REDIS_URL is not rediss:// (TLS)",
                ));
            }
            let pem = std::fs::read(path).map_err(|e| {
                invalid(
                    REDIS_CA_FILE,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            check_ca(&pem).map_err(|reason| {
                invalid(REDIS_CA_FILE, format!("{}: {reason}", path.display()))
            })?;
        }
        Ok(())
    }

    #[cfg(feature = "redis")]
    async fn connect(&self) -> Result<Arc<dyn VerificationStore>, ConfigError> {
        use crate::store::redis::RedisStore;
        let urls = self.urls();
        let mut builder = if self.cluster {
            RedisStore::cluster_builder(urls)
        } else {
            RedisStore::builder(urls.first().copied().unwrap_or_default())
        };
        if let Some(path) = &self.ca_file {
            builder = builder.ca_file(path.clone());
        }
        if let Some(n) = self.wait_replicas {
            builder = builder.wait_for_replicas(n);
        }
        let store = builder.connect().await.map_err(ConfigError::Store)?;
        Ok(Arc::new(store))
    }

    #[cfg(not(feature = "redis"))]
    async fn connect(&self) -> Result<Arc<dyn VerificationStore>, ConfigError> {
        Err(invalid(
            REDIS_URL,
            "this build has no Redis support (enable the `redis` feature)",
        ))
    }
}

fn is_tls_url(url: &str) -> bool {
    url.get(..9)
        .is_some_and(|s| s.eq_ignore_ascii_case("rediss://"))
}

#[cfg(feature = "redis-tls")]
fn check_ca(pem: &[u8]) -> Result<(), &'static str> {
    crate::store::redis::check_ca_pem(pem).map(drop)
}

#[cfg(not(feature = "redis-tls"))]
fn check_ca(_: &[u8]) -> Result<(), &'static str> {
    Ok(())
}

/// Checks `TWOFACTOR_DATABASE_URL` before anything connects (never showing the URL).
fn check_database(url: &SecretString, redis: bool) -> Result<(), ConfigError> {
    if redis {
        return Err(invalid(
            DATABASE_URL,
            "is set together with TWOFACTOR_REDIS_URL: choose one store (unset one of them)",
        ));
    }
    if !cfg!(feature = "postgres") {
        return Err(invalid(
            DATABASE_URL,
            "this build has no PostgreSQL support (enable the `postgres` feature)",
        ));
    }
    let text = url.expose_secret().trim().to_ascii_lowercase();
    if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
        return Err(invalid(
            DATABASE_URL,
            "expected a postgres:// or postgresql:// URL",
        ));
    }
    Ok(())
}

impl PostgresSettings {
    #[cfg(feature = "postgres")]
    async fn connect(&self) -> Result<Arc<dyn VerificationStore>, ConfigError> {
        use crate::store::postgres::{Durability, PostgresStore};
        let durability = if self.synchronous_commit {
            Durability::Server
        } else {
            Durability::Relaxed
        };
        let store = PostgresStore::builder(self.url.expose_secret().trim())
            .durability(durability)
            .connect()
            .await
            .map_err(ConfigError::DatabaseStore)?;
        Ok(Arc::new(store))
    }

    #[cfg(not(feature = "postgres"))]
    async fn connect(&self) -> Result<Arc<dyn VerificationStore>, ConfigError> {
        Err(invalid(
            DATABASE_URL,
            "this build has no PostgreSQL support (enable the `postgres` feature)",
        ))
    }
}
