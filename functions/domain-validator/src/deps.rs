//! What the handler is given: the validator's settings and `Config` (from the environment), and `Deps`
//! (the domain registry, the DNS, the clock). Below `check.rs`, `sweep.rs` and the handler in `lib.rs`,
//! which all take `&Deps`.

use std::sync::Arc;
use std::time::Duration;

use volley_core::adapters::dynamodb::domains::DynamoDomainStore;
use volley_core::challenge::TxtLookup;
use volley_core::clock::{Clock, SystemClock};
use volley_core::config::{self, ConfigError, EnvReader};
use volley_core::model::domain::Policy;
use volley_core::ports::{DomainRegistry, OrganisationLimitsStore};
use volley_engine::guard::{DnsResolver, ResolveError};

/// How the validator behaves, apart from where its store and DNS are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub policy: Policy,
    /// `MAX_CONCURRENT_LOOKUPS`: DNS lookups in flight at once during a sweep (default 16).
    pub max_concurrent_lookups: usize,
    /// `DEADLINE_MARGIN`: a sweep starts no lookup later than this before the Lambda deadline (default
    /// 10s, more than a lookup's worst case), so it always finishes in time; the rest wait for the next run.
    pub deadline_margin: Duration,
    /// Records read from the index per query.
    pub page_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            max_concurrent_lookups: 16,
            deadline_margin: Duration::from_secs(10),
            page_size: 100,
        }
    }
}

/// The validator's environment, read once per cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DOMAINS_TABLE`: the table the worker's guard reads too.
    pub domains_table: String,
    /// `DNS_SERVERS`: nameservers (address:port, comma-separated); default the system's.
    pub dns_servers: Vec<std::net::SocketAddr>,
    /// `DNS_TIMEOUT`: per query attempt (default 2s; two attempts).
    pub dns_timeout: Duration,
    /// `PENDING_TTL` (7d), `RECHECK_INTERVAL` (24h), `MISS_RECHECK_INTERVAL` (1h), `REVOKE_AFTER_MISSES`
    /// (3), `MAX_CONCURRENT_LOOKUPS` (16), `DEADLINE_MARGIN` (10s).
    pub settings: Settings,
}

fn positive(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a whole number above 0".into()),
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_reader(&mut EnvReader::new())
    }

    /// Reads the settings through `env` (the process environment, or a map in the deploy tests).
    pub fn from_reader(env: &mut EnvReader) -> Result<Self, ConfigError> {
        let defaults = Settings::default();
        let domains_table = env.required("DOMAINS_TABLE");
        let dns_servers = env.parsed("DNS_SERVERS", config::socket_addrs).unwrap_or_default();
        let dns_timeout = env
            .parsed("DNS_TIMEOUT", config::duration)
            .unwrap_or(Duration::from_secs(2));
        let policy = Policy {
            pending_ttl: env
                .parsed("PENDING_TTL", config::duration)
                .unwrap_or(defaults.policy.pending_ttl),
            recheck_interval: env
                .parsed("RECHECK_INTERVAL", config::duration)
                .unwrap_or(defaults.policy.recheck_interval),
            miss_recheck_interval: env
                .parsed("MISS_RECHECK_INTERVAL", config::duration)
                .unwrap_or(defaults.policy.miss_recheck_interval),
            revoke_after_misses: env
                .parsed("REVOKE_AFTER_MISSES", positive)
                .unwrap_or(defaults.policy.revoke_after_misses),
        };
        let max_concurrent_lookups = env
            .parsed("MAX_CONCURRENT_LOOKUPS", positive)
            .map_or(defaults.max_concurrent_lookups, |n| n as usize);
        let deadline_margin = env
            .parsed("DEADLINE_MARGIN", config::duration)
            .unwrap_or(defaults.deadline_margin);
        env.finish()?;
        Ok(Self {
            domains_table,
            dns_servers,
            dns_timeout,
            settings: Settings {
                policy,
                max_concurrent_lookups,
                deadline_margin,
                ..defaults
            },
        })
    }
}

/// The AWS actions this function's adapter methods call (each list sits next to its adapter): the deploy
/// consistency test (`tests/it/deploy.rs`) holds the IAM policies in deploy/ and template.yaml to them.
pub const IAM_ACTIONS: &[&[&str]] = &[
    volley_core::adapters::dynamodb::domains::DOMAIN_REGISTRY_ACTIONS,
    volley_core::adapters::dynamodb::domains::LIMITS_READ_ACTIONS,
    volley_core::adapters::dynamodb::domains::LIMITS_WRITE_ACTIONS,
];

/// Everything an invocation needs, built once.
#[derive(Debug, Clone)]
pub struct Deps {
    pub registry: Arc<dyn DomainRegistry>,
    /// The organisations' limits, kept in the same table.
    pub limits: Arc<dyn OrganisationLimitsStore>,
    pub txt: Arc<dyn TxtLookup>,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
}

impl Deps {
    pub fn from_aws(sdk_config: &volley_core::aws::SdkConfig, config: &Config) -> Result<Self, ResolveError> {
        let resolver = if config.dns_servers.is_empty() {
            DnsResolver::system(config.dns_timeout)?
        } else {
            DnsResolver::with_nameservers(&config.dns_servers, config.dns_timeout)?
        };
        Ok(Self {
            registry: Arc::new(DynamoDomainStore::new(sdk_config, &config.domains_table)),
            limits: Arc::new(DynamoDomainStore::new(sdk_config, &config.domains_table)),
            txt: Arc::new(resolver),
            clock: Arc::new(SystemClock),
            settings: config.settings,
        })
    }
}
