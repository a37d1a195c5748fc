//! The result of one call, as the worker sends it to the results queue and the archiver stores it.
//!
//! A result that fits in one SQS message travels inline; a larger one is put in S3 and the message carries
//! a pointer. Either way the archiver stores the full result at [`CallResult::archive_key`].
//!
//! While a call runs, its worker sends the seconds it has sealed every chunk period as a
//! [`ResultChunk`], numbered from 0; the call's result at its end says how many chunks there were and how
//! many of its seconds they carried ([`Chunked`]), so the archiver counts each second once: a chunk's in
//! the chunk, the rest in the result. A worker that dies loses at most the seconds since its last chunk.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use volley_engine::load::report::Report;
use volley_engine::load::stats::{SecondStats, Stats};

use crate::model::abort::AbortRule;
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
    /// The chunks sent while the call ran, if any: the report's first `seconds` seconds were in them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunked: Option<Chunked>,
}

/// How much of a call's result its chunks carried: chunks `0..chunks`, holding the report's first
/// `seconds` seconds, in order, chunk `k` from position `starts[k]` to the next one's start (or `seconds`).
/// Every chunk the worker made is here, whether the queue took it or not: the archiver counts any whose
/// message never came from these positions of the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chunked {
    pub chunks: u32,
    pub seconds: usize,
    #[serde(default)]
    pub starts: Vec<usize>,
}

impl Chunked {
    /// Chunk `k`'s positions among the report's seconds, if the result says where each began.
    pub fn range(&self, k: usize) -> Option<std::ops::Range<usize>> {
        if self.starts.len() != self.chunks as usize {
            return None;
        }
        let start = *self.starts.get(k)?;
        let end = self.starts.get(k + 1).copied().unwrap_or(self.seconds);
        (start <= end && end <= self.seconds).then_some(start..end)
    }
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

    /// The seconds no chunk carried (all of them when the call sent no chunk), decoded: what the result
    /// itself counts and publishes.
    pub fn unchunked_seconds(&self) -> Result<Vec<SecondStats>, serde_json::Error> {
        let carried = self.chunked.as_ref().map_or(0, |c| c.seconds);
        self.report
            .seconds
            .iter()
            .skip(carried)
            .map(|raw| serde_json::from_str(raw.get()))
            .collect()
    }

    /// What the result itself counts: the whole run, less what its chunks counted.
    pub fn unchunked_total(&self) -> Result<Stats, serde_json::Error> {
        if self.chunked.is_none() {
            return Ok(self.report.total.clone());
        }
        let mut total = Stats::default();
        for second in self.unchunked_seconds()? {
            total.merge(&second.stats);
        }
        Ok(total)
    }
}

/// Seconds a running call sealed, sent before its end: counted once, under the chunk's own scope
/// ([`CallScope::chunk`]).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultChunk {
    pub test_id: String,
    pub organisation_id: String,
    pub call_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Its number: 0 for the call's first chunk, one more for each after.
    pub chunk: u32,
    /// The call's sealed seconds from position `from` of its report on, oldest first, encoded as a
    /// report's are.
    pub from: usize,
    pub seconds: Vec<Box<RawValue>>,
    /// The test's abort rules, which the archiver holds over the live seconds, and where the test's stop
    /// is (the call's `abort` and `homeRegion`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abort: Vec<AbortRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_region: Option<String>,
}

impl ResultChunk {
    /// The call's scope, its ids checked (as [`CallResult::scope`]).
    pub fn call_scope(&self) -> Result<CallScope, ScopeError> {
        TestScope::checked(&self.organisation_id, &self.test_id)?.checked_call(&self.call_id)
    }

    /// Where the archiver keeps it.
    pub fn archive_key(&self) -> String {
        chunk_key(&self.organisation_id, &self.test_id, &self.call_id, self.chunk)
    }

    /// Its seconds, decoded.
    pub fn decode_seconds(&self) -> Result<Vec<SecondStats>, serde_json::Error> {
        self.seconds.iter().map(|raw| serde_json::from_str(raw.get())).collect()
    }
}

/// How often a running call sends its sealed seconds (the worker's `CHUNK_INTERVAL` when it is not set): a
/// worker that dies loses at most this much (and the seconds still open), and the test's live counters lag
/// by about this much. Each chunk is one SQS message and one archiver record: 360 an hour per worker.
pub const DEFAULT_CHUNK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
/// The shortest chunk period allowed: a second is the unit sealed.
pub const MIN_CHUNK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// The longest: a chunk's seconds are added to the live seconds in one transaction
/// (`ports::MAX_LIVE_SECONDS`), and a dead worker loses at most this much.
pub const MAX_CHUNK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);
/// `chunks/{organisationId}/{testId}/{callId}/{chunk}.json`: a call's chunks, numbered from 0.
pub fn chunk_key(organisation_id: &str, test_id: &str, call_id: &str, chunk: u32) -> String {
    format!("chunks/{organisation_id}/{test_id}/{call_id}/{chunk}.json")
}

/// `results/{organisationId}/{testId}/{callId}.json`.
pub fn archive_key(organisation_id: &str, test_id: &str, call_id: &str) -> String {
    format!("results/{organisation_id}/{test_id}/{call_id}.json")
}

/// Where an oversized result waits for the archiver.
pub fn overflow_key(organisation_id: &str, test_id: &str, call_id: &str) -> String {
    format!("overflow/{organisation_id}/{test_id}/{call_id}.json")
}

/// A message on the results queue: `{"kind": "inline", "result": {...}}`,
/// `{"kind": "stored", "testId": ..., "organisationId": ..., "callId": ..., "key": ...}`, or
/// `{"kind": "chunk", "chunk": {...}}`.
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
    /// Seconds of a call still running.
    Chunk(Box<ResultChunk>),
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
struct ChunkWire<C> {
    kind: String,
    chunk: C,
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
            Self::Chunk(chunk) => serde_json::to_string(&ChunkWire {
                kind: "chunk".into(),
                chunk,
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
            "chunk" => {
                let wire: ChunkWire<ResultChunk> = serde_json::from_str(text)?;
                Ok(Self::Chunk(Box::new(wire.chunk)))
            }
            other => Err(serde::de::Error::custom(format!(
                "unknown result message kind {other:?}; expected \"inline\", \"stored\" or \"chunk\""
            ))),
        }
    }
}
