//! The result of one call, as the worker sends it to the results queue and the archiver stores it.
//!
//! A result that fits in one SQS message travels inline; a larger one is put in S3 and the message carries
//! a pointer. Either way the archiver stores the full result at [`CallResult::archive_key`].

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use volley_engine::load::report::Report;

use crate::model::scope::{CallScope, ScopeError, TestScope};

/// The largest message body the worker sends inline (SQS allows 256 KiB; this leaves room for attributes).
pub const MAX_INLINE_BYTES: usize = 240 * 1024;

/// What one worker measured for one `User Call`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallResult {
    pub test_id: String,
    pub organisation_id: String,
    pub call_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub url: String,
    /// The vetted addresses the worker connected to.
    pub addresses: Vec<SocketAddr>,
    pub report: Report,
}

impl CallResult {
    /// The call's scope: its organisation, test and call id, each checked against the identifier rule
    /// (they key everything the archiver writes).
    pub fn scope(&self) -> Result<CallScope, ScopeError> {
        TestScope::checked(&self.organisation_id, &self.test_id)?.checked_call(&self.call_id)
    }

    /// Where the archiver keeps it: deterministic, so a redelivery rewrites the same object.
    pub fn archive_key(&self) -> String {
        archive_key(&self.organisation_id, &self.test_id, &self.call_id)
    }
}

/// `results/{organisationId}/{testId}/{callId}.json`.
pub fn archive_key(organisation_id: &str, test_id: &str, call_id: &str) -> String {
    format!("results/{organisation_id}/{test_id}/{call_id}.json")
}

/// Where an oversized result waits for the archiver.
pub fn overflow_key(organisation_id: &str, test_id: &str, call_id: &str) -> String {
    format!("overflow/{organisation_id}/{test_id}/{call_id}.json")
}

/// A message on the results queue: `{"kind": "inline", "result": {...}}`, or
/// `{"kind": "stored", "testId": ..., "organisationId": ..., "callId": ..., "key": ...}`.
///
/// Read with [`ResultMessage::from_json`], which looks at `kind` first and then reads the one shape it
/// names: serde's tagged enums buffer their content, which the per-second buckets (raw JSON) cannot pass
/// through.
#[derive(Debug)]
pub enum ResultMessage {
    /// The whole result.
    Inline(Box<CallResult>),
    /// The result is in S3 at `key` (in the results bucket).
    Stored {
        test_id: String,
        organisation_id: String,
        call_id: String,
        key: String,
    },
}

#[derive(Deserialize)]
struct Kind {
    kind: String,
}

#[derive(Serialize, Deserialize)]
struct InlineWire<R> {
    kind: String,
    result: R,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredWire {
    kind: String,
    test_id: String,
    organisation_id: String,
    call_id: String,
    key: String,
}

impl ResultMessage {
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        match self {
            Self::Inline(result) => serde_json::to_string(&InlineWire {
                kind: "inline".into(),
                result,
            }),
            Self::Stored {
                test_id,
                organisation_id,
                call_id,
                key,
            } => serde_json::to_string(&StoredWire {
                kind: "stored".into(),
                test_id: test_id.clone(),
                organisation_id: organisation_id.clone(),
                call_id: call_id.clone(),
                key: key.clone(),
            }),
        }
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let Kind { kind } = serde_json::from_str(text)?;
        match kind.as_str() {
            "inline" => {
                let wire: InlineWire<CallResult> = serde_json::from_str(text)?;
                Ok(Self::Inline(Box::new(wire.result)))
            }
            "stored" => {
                let wire: StoredWire = serde_json::from_str(text)?;
                Ok(Self::Stored {
                    test_id: wire.test_id,
                    organisation_id: wire.organisation_id,
                    call_id: wire.call_id,
                    key: wire.key,
                })
            }
            other => Err(serde::de::Error::custom(format!(
                "unknown result message kind {other:?}; expected \"inline\" or \"stored\""
            ))),
        }
    }
}
