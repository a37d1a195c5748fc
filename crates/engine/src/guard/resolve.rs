//! Name resolution for the guard: A and AAAA, through the configured nameservers only.
//!
//! No hosts file and no search domains (names are looked up fully qualified), CNAME chains followed,
//! truncated UDP answers retried over TCP (hickory does both). Any failure refuses: NXDOMAIN, SERVFAIL, a
//! timeout, one of the two queries failing, or no address at all. A NODATA answer for one family (a host
//! with A records and no AAAA) is not a failure.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use thiserror::Error;

/// The addresses a name resolved to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    pub addresses: Vec<IpAddr>,
}

/// Why a name did not resolve.
#[derive(Debug, Error)]
pub enum ResolveError {
    #[error("the name does not exist (NXDOMAIN)")]
    NoSuchName,
    #[error("the name has no A or AAAA records")]
    NoAddresses,
    #[error("the {record} query failed")]
    Failed {
        record: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{0:?} is not a valid DNS name")]
    BadName(String),
    #[error("the resolver could not be configured")]
    Setup(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Resolves names for the guard. [`DnsResolver`] is the real one.
#[async_trait]
pub trait Resolve: Send + Sync + std::fmt::Debug {
    async fn resolve(&self, host: &str) -> Result<Resolution, ResolveError>;
}

/// A hickory resolver that asks only the given nameservers (or the system's, from resolv.conf).
#[derive(Debug, Clone)]
pub struct DnsResolver {
    resolver: TokioResolver,
}

fn options(timeout: Duration) -> ResolverOpts {
    let mut options = ResolverOpts::default();
    options.use_hosts_file = ResolveHosts::Never;
    options.ndots = 0;
    options.timeout = timeout;
    options.attempts = 2;
    // Each vet asks afresh; the engine pins what this answered, so a cache would only hide changes.
    options.cache_size = 0;
    options
}

impl DnsResolver {
    /// Asks exactly `nameservers` (UDP, with TCP for truncated answers).
    pub fn with_nameservers(nameservers: &[SocketAddr], timeout: Duration) -> Result<Self, ResolveError> {
        let servers = nameservers
            .iter()
            .map(|server| {
                let mut config = NameServerConfig::udp_and_tcp(server.ip());
                for connection in &mut config.connections {
                    connection.port = server.port();
                }
                config
            })
            .collect();
        let resolver = TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(servers),
            TokioRuntimeProvider::default(),
        )
        .with_options(options(timeout))
        .build()
        .map_err(|e| ResolveError::Setup(Box::new(e)))?;
        Ok(Self { resolver })
    }

    /// Asks the nameservers of the system configuration (resolv.conf), still without the hosts file and
    /// search domains.
    pub fn system(timeout: Duration) -> Result<Self, ResolveError> {
        let resolver = TokioResolver::builder_tokio()
            .map_err(|e| ResolveError::Setup(Box::new(e)))?
            .with_options(options(timeout))
            .build()
            .map_err(|e| ResolveError::Setup(Box::new(e)))?;
        Ok(Self { resolver })
    }
}

impl DnsResolver {
    /// The hickory resolver underneath, for other record types (the domain-validator's TXT lookups).
    pub fn hickory(&self) -> &TokioResolver {
        &self.resolver
    }
}

/// The addresses of one query, with NODATA as none and every other failure as an error.
fn addresses(
    record: &'static str,
    result: Result<hickory_resolver::lookup::Lookup, NetError>,
) -> Result<Vec<IpAddr>, ResolveError> {
    match result {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter_map(|answer| match &answer.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            })
            .collect()),
        Err(e) if e.is_nx_domain() => Err(ResolveError::NoSuchName),
        Err(e) if e.is_no_records_found() => Ok(Vec::new()),
        Err(e) => Err(ResolveError::Failed {
            record,
            source: Box::new(e),
        }),
    }
}

#[async_trait]
impl Resolve for DnsResolver {
    async fn resolve(&self, host: &str) -> Result<Resolution, ResolveError> {
        let fqdn = if host.ends_with('.') {
            host.to_owned()
        } else {
            format!("{host}.")
        };
        let name =
            hickory_resolver::proto::rr::Name::from_ascii(&fqdn).map_err(|_| ResolveError::BadName(host.to_owned()))?;
        let (v4, v6) = tokio::join!(self.resolver.ipv4_lookup(name.clone()), self.resolver.ipv6_lookup(name));
        let mut found = addresses("A", v4)?;
        found.extend(addresses("AAAA", v6)?);
        found.sort();
        found.dedup();
        if found.is_empty() {
            return Err(ResolveError::NoAddresses);
        }
        Ok(Resolution { addresses: found })
    }
}
