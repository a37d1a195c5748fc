//! What to send: the one request an attack repeats (oha's request generator, reduced to one prepared
//! request; run-load's varied requests are siblings of one endpoint, [`super::transport::Endpoint::sibling`]).

use bytes::Bytes;

/// What to send (the default: a GET without headers or body).
#[derive(Debug, Clone, Default)]
pub struct RequestSpec {
    pub method: http::Method,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}
