//! The DNS side of domain validation: TXT lookups through the configured nameservers only (the guard's
//! [`DnsResolver`]: no hosts file, no search domains, no cache), and the check of one challenge.
//!
//! The strings of one TXT record are joined (a value longer than 255 bytes is split into several); any of
//! several TXT records may hold the token. NXDOMAIN and an empty answer are definite: the record is
//! missing. Anything else that fails (a timeout, SERVFAIL, REFUSED) is transient: nothing is learnt.

use async_trait::async_trait;
use hickory_resolver::proto::rr::{Name, RData};
use thiserror::Error;

use crate::model::domain::{CheckOutcome, DomainName, holds_token};
use volley_engine::guard::DnsResolver;

/// Why a TXT lookup answered nothing usable.
#[derive(Debug, Error)]
pub enum TxtError {
    /// The DNS answered that the name does not exist: a definite answer.
    #[error("the name does not exist (NXDOMAIN)")]
    NoSuchName,
    /// The DNS did not answer, or answered with a failure: a retry may succeed.
    #[error("the TXT query failed")]
    Transient(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("{0:?} is not a valid DNS name")]
    BadName(String),
}

/// Looks up TXT records. [`DnsResolver`] is the real one.
#[async_trait]
pub trait TxtLookup: Send + Sync + std::fmt::Debug {
    /// The TXT records at `name`, each with its strings joined; empty when the name has none (NODATA).
    async fn txt(&self, name: &str) -> Result<Vec<String>, TxtError>;
}

#[async_trait]
impl TxtLookup for DnsResolver {
    async fn txt(&self, name: &str) -> Result<Vec<String>, TxtError> {
        let fqdn = if name.ends_with('.') {
            name.to_owned()
        } else {
            format!("{name}.")
        };
        let query = Name::from_ascii(&fqdn).map_err(|_| TxtError::BadName(name.to_owned()))?;
        match self.hickory().txt_lookup(query).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|answer| match &answer.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|part| String::from_utf8_lossy(part))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_nx_domain() => Err(TxtError::NoSuchName),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(TxtError::Transient(Box::new(e))),
        }
    }
}

/// Looks up `domain`'s challenge record now and says whether one of its TXT records holds `token`.
pub async fn check(lookup: &dyn TxtLookup, domain: &DomainName, token: &str) -> CheckOutcome {
    let name = domain.challenge_name();
    match lookup.txt(&name).await {
        Ok(records) if records.iter().any(|r| holds_token(r, token)) => CheckOutcome::Found,
        Ok(records) if records.is_empty() => CheckOutcome::Missing(format!("no TXT record at {name}")),
        Ok(records) => CheckOutcome::Missing(format!(
            "none of the {} TXT records at {name} holds the token",
            records.len()
        )),
        Err(TxtError::NoSuchName) => CheckOutcome::Missing(format!("{name} does not exist (NXDOMAIN)")),
        Err(e @ TxtError::BadName(_)) => CheckOutcome::Missing(e.to_string()),
        Err(e @ TxtError::Transient(_)) => CheckOutcome::Transient(format!("{name}: {}", crate::error_chain(&e))),
    }
}
