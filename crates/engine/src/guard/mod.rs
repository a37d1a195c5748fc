//! The target guard: may this URL be load-tested, and at which addresses?
//!
//! Before any request, a target must pass every rule here, and the engine then connects only to the
//! addresses vetted (pinned: resolved once, never again), so DNS rebinding cannot swap the target:
//!
//! 1. the URL's spelling is unambiguous (`target_url`), its host name normalised as the registry stores names
//!    (UTS #46, nontransitional: `host`);
//! 2. a domain must be validated for the organisation, or be a subdomain of one (label boundary:
//!    `evil-example.com` is not under `example.com`); a literal address must be on the allow-list exactly;
//! 3. a domain resolves (A and AAAA, through the configured nameservers only: no hosts file, no search
//!    domains) and every address it answers is vetted; one bad address refuses the target;
//! 4. addresses in a special-purpose range (`ranges`) are refused unless that exact address and port is on
//!    the allow-list (meant for local profiles); the Lambda Runtime API's address never is.
//!
//! Every refusal names the rule and the address or text that broke it.

pub mod domains;
pub mod host;
pub mod ranges;
pub mod refusal;
pub mod resolve;
pub mod target_url;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

pub use domains::{DomainStore, StoreError, ValidatedList};
pub use host::{NameError, NameRules, normalise_domain};
pub use refusal::Refusal;
pub use resolve::{DnsResolver, Resolution, Resolve, ResolveError};
pub use target_url::{Scheme, TargetHost, TargetUrl};

/// Exact address-and-port pairs that may be tested although their range is refused (local profiles).
/// Allowing 127.0.0.1:8080 allows nothing else: not another port, not another loopback address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(BTreeSet<SocketAddr>);

impl AllowList {
    pub fn new(entries: impl IntoIterator<Item = SocketAddr>) -> Self {
        Self(entries.into_iter().collect())
    }

    /// Parses a comma-separated list such as `127.0.0.1:8080,[::1]:8443`.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|entry| {
                entry.parse::<SocketAddr>().map_err(|_| {
                    format!("allow-list entry {entry:?} is not an address and port such as 127.0.0.1:8080")
                })
            })
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    pub fn allows(&self, address: SocketAddr) -> bool {
        self.0.contains(&address)
    }

    pub fn entries(&self) -> impl Iterator<Item = &SocketAddr> {
        self.0.iter()
    }
}

/// A target that passed the guard: connect to `addresses` only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VettedTarget {
    pub url: url::Url,
    /// The host the URL names (a domain, or a literal address).
    pub host: String,
    pub port: u16,
    /// Every address the host resolved to, each vetted. The engine connects to these and no others.
    pub addresses: Vec<SocketAddr>,
    /// Why it was allowed, for `volley vet`.
    pub reason: String,
}

/// The guard. Built once, shared by every attack.
#[derive(Debug, Clone)]
pub struct TargetGuard {
    domains: Arc<dyn DomainStore>,
    resolver: Arc<dyn Resolve>,
    allow: AllowList,
    runtime_api: Option<SocketAddr>,
}

impl TargetGuard {
    /// `runtime_api` is the Lambda Runtime API's address (from `AWS_LAMBDA_RUNTIME_API` where it is set),
    /// which is refused even when the allow-list names it.
    pub fn new(
        domains: Arc<dyn DomainStore>,
        resolver: Arc<dyn Resolve>,
        allow: AllowList,
        runtime_api: Option<SocketAddr>,
    ) -> Self {
        Self {
            domains,
            resolver,
            allow,
            runtime_api,
        }
    }

    fn vet_address(&self, host: &str, address: SocketAddr) -> Result<(), Refusal> {
        if Some(address) == self.runtime_api {
            return Err(Refusal::RuntimeApi { address });
        }
        if self.allow.allows(address) {
            return Ok(());
        }
        // An IPv4-mapped IPv6 address is judged as the IPv4 address it carries, and refused as mapped.
        match ranges::special_purpose(address.ip()) {
            None => Ok(()),
            Some(range) => Err(Refusal::SpecialAddress {
                host: host.to_owned(),
                address: address.ip(),
                range: range.name,
                network: range.network,
                document: range.source,
            }),
        }
    }

    /// Whether `domain` is validated for `organisation`, or a subdomain of a validated domain.
    async fn validated(&self, organisation: &str, domain: &str) -> Result<Option<String>, Refusal> {
        let labels: Vec<&str> = domain.split('.').collect();
        // Every suffix at a label boundary, longest first, down to two labels: a.b.example.com, b.example.com,
        // example.com. A single label (a TLD) is never a validated domain.
        for start in 0..labels.len().saturating_sub(1) {
            let candidate = labels[start..].join(".");
            if self
                .domains
                .is_validated(organisation, &candidate)
                .await
                .map_err(Refusal::Store)?
            {
                return Ok(Some(candidate));
            }
        }
        Ok(None)
    }

    /// Vets `raw_url` for `organisation`. No request is sent to the target.
    pub async fn vet(&self, organisation: &str, raw_url: &str) -> Result<VettedTarget, Refusal> {
        let target = target_url::parse(raw_url)?;
        match &target.host {
            TargetHost::Ip(ip) => {
                let address = SocketAddr::new(*ip, target.port);
                if Some(address) == self.runtime_api {
                    return Err(Refusal::RuntimeApi { address });
                }
                if !self.allow.allows(address) {
                    return Err(Refusal::LiteralAddress { address });
                }
                Ok(VettedTarget {
                    host: ip.to_string(),
                    port: target.port,
                    addresses: vec![address],
                    reason: format!("{address} is on the allow-list"),
                    url: target.url,
                })
            }
            TargetHost::Domain(domain) => {
                let Some(validated) = self.validated(organisation, domain).await? else {
                    return Err(Refusal::NotValidated {
                        host: domain.clone(),
                        organisation: organisation.to_owned(),
                    });
                };
                let resolution = self
                    .resolver
                    .resolve(domain)
                    .await
                    .map_err(|source| Refusal::Unresolved {
                        host: domain.clone(),
                        source,
                    })?;
                let addresses: Vec<SocketAddr> = resolution
                    .addresses
                    .iter()
                    .map(|ip| SocketAddr::new(*ip, target.port))
                    .collect();
                for address in &addresses {
                    self.vet_address(domain, *address)?;
                }
                let allowed: Vec<String> = addresses
                    .iter()
                    .filter(|a| self.allow.allows(**a))
                    .map(ToString::to_string)
                    .collect();
                let mut reason = if &validated == domain {
                    format!("{domain} is validated for organisation {organisation:?}")
                } else {
                    format!("{domain} is a subdomain of {validated}, validated for organisation {organisation:?}")
                };
                if allowed.is_empty() {
                    reason.push_str("; every address it resolves to is public");
                } else {
                    reason.push_str(&format!("; {} on the allow-list", allowed.join(", ")));
                }
                Ok(VettedTarget {
                    host: domain.clone(),
                    port: target.port,
                    addresses,
                    reason,
                    url: target.url,
                })
            }
        }
    }
}

/// The Lambda Runtime API's address from `AWS_LAMBDA_RUNTIME_API` (`127.0.0.1:9001` in Lambda), if set.
pub fn runtime_api_from_env() -> Option<SocketAddr> {
    std::env::var("AWS_LAMBDA_RUNTIME_API")
        .ok()
        .and_then(|v| v.parse().ok())
}

/// The guard's settings (`volley_core::config::guard_settings` reads them from a function's environment): `ALLOWED_TARGETS` (exact
/// address:port pairs allowed although private; local profiles only) and `DNS_SERVERS` (nameservers as
/// address:port, comma-separated; default the system's).
#[derive(Debug, Clone, Default)]
pub struct GuardSettings {
    pub allowed_targets: AllowList,
    pub dns_servers: Vec<SocketAddr>,
}

impl GuardSettings {
    /// The guard over `domains`, resolving through the configured nameservers (5 s timeout), refusing the
    /// Lambda Runtime API's address.
    pub fn guard(&self, domains: Arc<dyn DomainStore>) -> Result<TargetGuard, resolve::ResolveError> {
        let timeout = std::time::Duration::from_secs(5);
        let resolver: Arc<dyn Resolve> = Arc::new(if self.dns_servers.is_empty() {
            resolve::DnsResolver::system(timeout)?
        } else {
            resolve::DnsResolver::with_nameservers(&self.dns_servers, timeout)?
        });
        Ok(TargetGuard::new(
            domains,
            resolver,
            self.allowed_targets.clone(),
            runtime_api_from_env(),
        ))
    }
}
