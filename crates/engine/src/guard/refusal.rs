//! Why a target was refused: every refusal names its rule and the address or text that broke it.

use std::net::{IpAddr, SocketAddr};

use thiserror::Error;

use super::domains::StoreError;
use super::resolve::ResolveError;

/// Why a target was refused.
#[derive(Debug, Error)]
pub enum Refusal {
    #[error("refused {url:?} (rule: url): not a URL: {why}")]
    NotAUrl { url: String, why: String },
    #[error("refused {url:?} (rule: scheme): only http and https may be tested, not {scheme:?}")]
    Scheme { url: String, scheme: String },
    #[error("refused {url:?} (rule: ambiguous URL): {why}{}", .use_instead.as_ref().map(|u| format!("; write it as {u}")).unwrap_or_default())]
    AmbiguousUrl {
        url: String,
        why: String,
        use_instead: Option<String>,
    },
    #[error(
        "refused {host} (rule: validated domain): it is not a domain validated for organisation {organisation:?}, nor a subdomain of one"
    )]
    NotValidated { host: String, organisation: String },
    #[error(
        "refused {address} (rule: literal address): a literal IP address may be tested only when that exact address and port is on the allow-list"
    )]
    LiteralAddress { address: SocketAddr },
    #[error("refused {host} (rule: resolution): {source}")]
    Unresolved {
        host: String,
        #[source]
        source: ResolveError,
    },
    #[error("refused {host} (rule: address range): it resolves to {address}, which is {range} ({network}, {document})")]
    SpecialAddress {
        host: String,
        address: IpAddr,
        range: &'static str,
        network: ipnet::IpNet,
        document: &'static str,
    },
    #[error("refused {address} (rule: Lambda Runtime API): the Lambda Runtime API is never a target")]
    RuntimeApi { address: SocketAddr },
    #[error("could not read the validated domains")]
    Store(#[source] StoreError),
}
