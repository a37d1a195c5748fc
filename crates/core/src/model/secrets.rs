//! Secrets by reference: a header value may name an SSM Parameter Store parameter instead of holding the
//! secret, as `{{ssm:/volley/acme/api-token}}` (alone, or inside a value: `Bearer {{ssm:/volley/acme/token}}`).
//! The worker and run-load resolve references when a call or a run starts, so the secret is never on the
//! bus, in a retry, in a dead-letter queue or in a stored request.
//!
//! References are scoped per organisation: an organisation's parameters live under `<root>/<organisation>/`
//! (the root is the deployment's, `/volley`), and a reference outside its own organisation's folder is
//! refused, so one organisation cannot send another's secret to its own domain. The IAM policy in deploy/
//! lets the functions read nothing outside the root.

use std::ops::Range;

use thiserror::Error;

/// How a reference opens and closes.
const OPEN: &str = "{{ssm:";
const CLOSE: &str = "}}";
/// The longest parameter path (SSM allows 2,048 characters for a full ARN; a path is shorter).
pub const MAX_PATH_LEN: usize = 1011;

/// Why a reference names nothing it may name. Messages name the path, never a value.
#[derive(Debug, Error)]
pub enum ReferenceError {
    #[error("{{{{ssm:{path}}}}} is outside {prefix}, the organisation's own parameters")]
    Elsewhere { path: String, prefix: String },
    #[error("{{{{ssm:{path}}}}} is not a parameter path: {why}")]
    Malformed { path: String, why: &'static str },
}

/// The folder of `organisation`'s parameters under `root`: `<root>/<organisation>/`.
pub fn organisation_prefix(root: &str, organisation: &str) -> String {
    format!("{}/{organisation}/", root.trim_end_matches('/'))
}

/// Every reference in `text`: where it stands (the whole `{{ssm:...}}`) and the path it names.
pub fn references(text: &str) -> Vec<(Range<usize>, &str)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find(OPEN).map(|i| from + i) {
        let Some(close) = text[open..].find(CLOSE).map(|i| open + i) else {
            break;
        };
        found.push((open..close + CLOSE.len(), &text[open + OPEN.len()..close]));
        from = close + CLOSE.len();
    }
    found
}

/// Checks that `path` is a parameter path inside `organisation`'s folder under `root`.
pub fn check_path(path: &str, root: &str, organisation: &str) -> Result<(), ReferenceError> {
    let malformed = |why| ReferenceError::Malformed {
        path: path.to_owned(),
        why,
    };
    if path.len() > MAX_PATH_LEN {
        return Err(malformed("too long"));
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'.' | b'-'))
    {
        return Err(malformed("only letters, digits, '/', '_', '.' and '-'"));
    }
    if path.split('/').any(|part| part == ".." || part == ".") || path.contains("//") {
        return Err(malformed("no empty, '.' or '..' parts"));
    }
    let prefix = organisation_prefix(root, organisation);
    if !path.starts_with(&prefix) || path.len() == prefix.len() {
        return Err(ReferenceError::Elsewhere {
            path: path.to_owned(),
            prefix,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_alone_and_inside_a_value() {
        assert_eq!(references("plain"), vec![]);
        let text = "Bearer {{ssm:/volley/acme/token}} and {{ssm:/volley/acme/other}}";
        let found: Vec<&str> = references(text).into_iter().map(|(_, path)| path).collect();
        assert_eq!(found, ["/volley/acme/token", "/volley/acme/other"]);
        let (range, _) = &references(text)[0];
        assert_eq!(&text[range.clone()], "{{ssm:/volley/acme/token}}");
        assert_eq!(references("{{ssm:/never/closed"), vec![]);
    }

    #[test]
    fn a_path_must_be_inside_its_organisations_folder() {
        assert!(check_path("/volley/acme/api-token", "/volley", "acme").is_ok());
        assert!(check_path("/volley/acme/team/api.token", "/volley/", "acme").is_ok());
        for (path, says) in [
            ("/volley/globex/api-token", "outside /volley/acme/"),
            ("/volley/acme/", "outside /volley/acme/"),
            ("/volley/acme-x/token", "outside /volley/acme/"),
            ("/other/acme/token", "outside /volley/acme/"),
            ("/volley/acme/../globex/token", "no empty, '.' or '..' parts"),
            ("/volley/acme//token", "no empty"),
            ("/volley/acme/to ken", "only letters"),
        ] {
            let error = check_path(path, "/volley", "acme")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains(says), "{path}: {error:?} should say {says:?}");
        }
    }
}
