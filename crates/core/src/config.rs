//! Reading a function's configuration from the environment, reporting every problem at once.

use thiserror::Error;

/// What was wrong with the environment: every missing or invalid variable, not just the first.
#[derive(Debug, Error)]
#[error("invalid configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// Collects variables and the problems found reading them; `finish` turns any problem into an error. It
/// reads the process environment, or a given map (`from_map`: how the deploy consistency tests run a
/// function's `Config` over the environment deploy/ and template.yaml give it), and remembers every name
/// it was asked for.
#[derive(Debug, Default)]
pub struct EnvReader {
    problems: Vec<String>,
    source: Option<std::collections::BTreeMap<String, String>>,
    asked: Vec<(String, bool)>,
}

impl EnvReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// A reader over `variables` instead of the process environment.
    pub fn from_map(variables: std::collections::BTreeMap<String, String>) -> Self {
        Self {
            source: Some(variables),
            ..Self::default()
        }
    }

    /// Every variable asked for so far, and whether it was required.
    pub fn asked(&self) -> &[(String, bool)] {
        &self.asked
    }

    fn var(&mut self, name: &str, required: bool) -> Result<String, std::env::VarError> {
        self.asked.push((name.to_owned(), required));
        match &self.source {
            Some(map) => map.get(name).cloned().ok_or(std::env::VarError::NotPresent),
            None => std::env::var(name),
        }
    }

    /// A variable that must be set to a non-empty value.
    pub fn required(&mut self, name: &str) -> String {
        match self.var(name, true) {
            Ok(value) if !value.trim().is_empty() => value,
            Ok(_) => {
                self.problems.push(format!("{name} is set but empty"));
                String::new()
            }
            Err(std::env::VarError::NotPresent) => {
                self.problems.push(format!("{name} is not set"));
                String::new()
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                self.problems.push(format!("{name} is not valid UTF-8"));
                String::new()
            }
        }
    }

    /// A variable that may be unset (or empty, which counts as unset).
    pub fn optional(&mut self, name: &str) -> Option<String> {
        match self.var(name, false) {
            Ok(value) if !value.trim().is_empty() => Some(value),
            Ok(_) | Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => {
                self.problems.push(format!("{name} is not valid UTF-8"));
                None
            }
        }
    }

    /// An optional variable parsed by `parse`; a value that does not parse is a problem, named.
    pub fn parsed<T>(&mut self, name: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let value = self.optional(name)?;
        match parse(&value) {
            Ok(parsed) => Some(parsed),
            Err(why) => {
                self.problems.push(format!("{name}={value:?}: {why}"));
                None
            }
        }
    }

    /// Ok when no problem was found, else every problem at once.
    pub fn finish(&mut self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: std::mem::take(&mut self.problems),
            })
        }
    }
}

/// Parses `address:port` pairs separated by commas (`DNS_SERVERS`), for [`EnvReader::parsed`].
pub fn socket_addrs(text: &str) -> Result<Vec<std::net::SocketAddr>, String> {
    text.split(',')
        .map(|s| {
            s.trim()
                .parse::<std::net::SocketAddr>()
                .map_err(|_| format!("{s:?} is not address:port"))
        })
        .collect()
}

/// Parses a duration such as `30s`, `24h` or `7days` (humantime), for [`EnvReader::parsed`].
pub fn duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| e.to_string())
}

/// The target guard's settings, read the same way by every function that loads a target:
/// `ALLOWED_TARGETS` (exact address:port pairs allowed although private; local profiles only) and
/// `DNS_SERVERS` (nameservers as address:port, comma-separated; default the system's).
pub fn guard_settings(env: &mut EnvReader) -> volley_engine::guard::GuardSettings {
    volley_engine::guard::GuardSettings {
        allowed_targets: env
            .parsed("ALLOWED_TARGETS", volley_engine::guard::AllowList::parse)
            .unwrap_or_default(),
        dns_servers: env.parsed("DNS_SERVERS", socket_addrs).unwrap_or_default(),
    }
}

/// How header secrets are handled, read the same way by every function that sends a customer's headers:
/// `SECRETS_ROOT` (required: the folder of every organisation's parameters, `/<prefix>`) and
/// `SENSITIVE_HEADERS` (optional: more header names, comma-separated, whose values are never written down
/// beside `volley_engine::load::request::SENSITIVE_HEADERS`).
#[derive(Debug, Clone)]
pub struct SecretSettings {
    pub root: String,
    pub sensitive: volley_engine::load::request::Sensitive,
}

/// Reads [`SecretSettings`].
pub fn secret_settings(env: &mut EnvReader) -> SecretSettings {
    SecretSettings {
        root: env.required("SECRETS_ROOT"),
        sensitive: env
            .parsed("SENSITIVE_HEADERS", volley_engine::load::request::Sensitive::parse)
            .unwrap_or_default(),
    }
}
