//! The one way a function reads a JSON payload (a direct invoke, an event detail, a request body): serde
//! derive on the payload's type with `#[serde(deny_unknown_fields)]`, read through [`parse`] (or
//! [`parse_slice`] for bytes), which names the field at fault by its path (`compare.tag`,
//! `store.tags[0]`, `request.url`) with `serde_path_to_error`.
//!
//! A missing or unknown field is named too: serde reports it at its parent, so the name is taken from
//! serde's message (``missing field `region` ``) and joined to the parent's path.

use serde::de::DeserializeOwned;
use serde_json::Value;
use thiserror::Error;

/// The path serde_path_to_error gives the payload itself.
pub const ROOT: &str = ".";

/// Why a payload was refused: the field (its path; [`ROOT`] for the payload as a whole) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}{problem}", if field == ROOT { String::new() } else { format!("{field}: ") })]
pub struct PayloadError {
    /// The field's path, as written in the payload: `compare.tag`, `regions[1]`, or [`ROOT`].
    pub field: String,
    /// serde's words for what is wrong.
    pub problem: String,
    /// The bytes were not JSON at all (only from [`parse_slice`]).
    pub not_json: bool,
}

impl PayloadError {
    /// Whether the error is about the payload as a whole rather than one field.
    pub fn is_root(&self) -> bool {
        self.field == ROOT
    }
}

/// The field a serde error is about: its path, or for a missing, unknown or duplicate field (which serde
/// reports at the parent) the parent's path joined with the name from the message.
fn field_of(path: &str, problem: &str) -> String {
    let named = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| problem.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    match named {
        None => path.to_owned(),
        Some(name) if path == ROOT => name.to_owned(),
        // An unknown field's path already ends with it.
        Some(name) if path == name || path.ends_with(&format!(".{name}")) => path.to_owned(),
        Some(name) => format!("{path}.{name}"),
    }
}

fn refused(error: serde_path_to_error::Error<serde_json::Error>) -> PayloadError {
    let path = error.path().to_string();
    let not_json = error.inner().is_syntax() || error.inner().is_eof();
    let problem = error.into_inner().to_string();
    PayloadError {
        field: if not_json {
            ROOT.to_owned()
        } else {
            field_of(&path, &problem)
        },
        problem,
        not_json,
    }
}

/// Reads a payload already parsed as JSON into `T`, naming the field at fault.
pub fn parse<T: DeserializeOwned>(payload: &Value) -> Result<T, PayloadError> {
    serde_path_to_error::deserialize(payload).map_err(refused)
}

/// Reads JSON bytes (an HTTP body) into `T`, naming the field at fault; text that is not JSON, or has
/// anything after the value, is `not_json`.
pub fn parse_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PayloadError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(refused)?;
    deserializer.end().map_err(|e| PayloadError {
        field: ROOT.to_owned(),
        problem: e.to_string(),
        not_json: true,
    })?;
    Ok(value)
}

/// Whether `payload` is an EventBridge "Scheduled Event" (a schedule's own envelope, which is AWS's and
/// not ours to refuse fields of) rather than a request of ours: it has a `detail-type` of "Scheduled
/// Event" and no `action`.
pub fn is_scheduled_event(payload: &Value) -> bool {
    payload.get("action").is_none() && payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        tag: String,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Outer {
        test_id: String,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
    enum Tagged {
        #[serde(rename_all = "camelCase")]
        Check {
            organisation_id: String,
        },
        Sweep {},
    }

    fn error<T: DeserializeOwned + std::fmt::Debug>(payload: Value) -> PayloadError {
        match parse::<T>(&payload) {
            Ok(v) => panic!("accepted {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn each_error_names_its_field_by_path() {
        let cases = [
            (json!({}), "testId", "missing field `testId`"),
            (json!({"testId": "t", "colour": 1}), "colour", "unknown field `colour`"),
            (json!({"testId": 5}), "testId", "invalid type: integer `5`"),
            (json!({"testId": "t", "inner": {}}), "inner.tag", "missing field `tag`"),
            (
                json!({"testId": "t", "inner": {"tag": "x", "extra": 1}}),
                "inner.extra",
                "unknown field `extra`",
            ),
            (
                json!({"testId": "t", "inner": {"tag": "x", "tags": ["a", 2]}}),
                "inner.tags[1]",
                "invalid type",
            ),
            (json!("t"), ROOT, "invalid type: string"),
        ];
        for (payload, field, says) in cases {
            let e = error::<Outer>(payload.clone());
            assert_eq!(e.field, field, "{payload}: {e}");
            assert!(e.problem.contains(says), "{payload}: {e} should say {says:?}");
            assert!(!e.not_json);
            if field != ROOT {
                assert!(e.to_string().starts_with(&format!("{field}: ")), "{e}");
            } else {
                assert!(e.is_root());
                assert_eq!(e.to_string(), e.problem);
            }
        }
    }

    #[test]
    fn a_tagged_payload_names_its_fields_and_refuses_unknown_ones_in_every_variant() {
        assert_eq!(
            parse::<Tagged>(&json!({"action": "check", "organisationId": "acme"})).ok(),
            Some(Tagged::Check {
                organisation_id: "acme".into()
            })
        );
        assert_eq!(
            parse::<Tagged>(&json!({"action": "sweep"})).ok(),
            Some(Tagged::Sweep {})
        );
        let cases = [
            (json!({"organisationId": "acme"}), "action", "missing field `action`"),
            (
                json!({"action": "check"}),
                "organisationId",
                "missing field `organisationId`",
            ),
            (
                json!({"action": "check", "organisationId": "a", "token": 1}),
                "token",
                "unknown field `token`",
            ),
            (json!({"action": "sweep", "token": 1}), "token", "unknown field `token`"),
            (json!({"action": "delete"}), "action", "unknown variant `delete`"),
        ];
        for (payload, field, says) in cases {
            let e = error::<Tagged>(payload.clone());
            assert_eq!(e.field, field, "{payload}: {e}");
            assert!(e.problem.contains(says), "{payload}: {e} should say {says:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_json_are_told_apart_from_a_bad_field() {
        let not_json = parse_slice::<Outer>(b"{\"testId\": ").err();
        assert!(
            not_json.as_ref().is_some_and(|e| e.not_json && e.is_root()),
            "{not_json:?}"
        );
        let trailing = parse_slice::<Outer>(b"{\"testId\": \"t\"} x").err();
        assert!(trailing.as_ref().is_some_and(|e| e.not_json), "{trailing:?}");
        let unknown = parse_slice::<Outer>(br#"{"testId": "t", "admin": true}"#).err();
        assert!(
            unknown.as_ref().is_some_and(|e| !e.not_json && e.field == "admin"),
            "{unknown:?}"
        );
        assert!(parse_slice::<Outer>(br#"{"testId": "t"}"#).is_ok());
    }

    #[test]
    fn only_a_schedules_own_envelope_is_a_scheduled_event() {
        assert!(is_scheduled_event(
            &json!({"detail-type": "Scheduled Event", "source": "aws.events"})
        ));
        assert!(!is_scheduled_event(
            &json!({"detail-type": "Scheduled Event", "action": "x"})
        ));
        assert!(!is_scheduled_event(&json!({"detail-type": "User Call"})));
        assert!(!is_scheduled_event(&json!("Scheduled Event")));
    }
}
