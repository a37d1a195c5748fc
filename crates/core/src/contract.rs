//! Contract suites: one per port, run against the memory adapter in unit tests and against the emulator in
//! integration tests, so the fake cannot drift from the real thing.
//!
//! Each suite uses usernames unique to the call, so it can run against a shared table.

use chrono::NaiveDate;

use crate::model::birthday::Username;
use crate::ports::BirthdayStore;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn user(name: &str) -> Username {
    Username::parse(name).unwrap_or_else(|e| panic!("test username {name:?}: {e}"))
}

/// Every behaviour a `BirthdayStore` must have. `unique` is letters that make this run's usernames unique.
pub async fn birthday_store_contract(store: &dyn BirthdayStore, unique: &str) {
    let alice = user(&format!("alice{unique}"));
    let zoe = user(&format!("Zoë{unique}"));
    let nobody = user(&format!("nobody{unique}"));

    assert_eq!(store.get(&nobody).await.ok(), Some(None), "an unknown user has no date");

    store
        .put(&alice, date(1990, 1, 5))
        .await
        .unwrap_or_else(|e| panic!("put: {e:?}"));
    assert_eq!(
        store.get(&alice).await.ok(),
        Some(Some(date(1990, 1, 5))),
        "a put date is read back"
    );

    store
        .put(&alice, date(2000, 2, 29))
        .await
        .unwrap_or_else(|e| panic!("put: {e:?}"));
    assert_eq!(
        store.get(&alice).await.ok(),
        Some(Some(date(2000, 2, 29))),
        "a second put replaces the date"
    );

    store
        .put(&zoe, date(1985, 12, 31))
        .await
        .unwrap_or_else(|e| panic!("put: {e:?}"));
    assert_eq!(
        store.get(&zoe).await.ok(),
        Some(Some(date(1985, 12, 31))),
        "unicode usernames round-trip"
    );
    assert_eq!(
        store.get(&alice).await.ok(),
        Some(Some(date(2000, 2, 29))),
        "users do not overwrite each other"
    );

    let upper = user(&format!("ALICE{unique}"));
    assert_eq!(store.get(&upper).await.ok(), Some(None), "usernames are case-sensitive");
}

#[cfg(test)]
mod tests {
    use crate::adapters::memory::MemoryBirthdayStore;

    #[tokio::test]
    async fn memory_birthday_store_meets_the_contract() {
        super::birthday_store_contract(&MemoryBirthdayStore::new(), "x").await;
    }
}

/// Helpers for tests that run over the wire against the local AWS emulator. They never skip: a missing
/// emulator is a loud failure that says how to start it.
pub mod emulator {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// The SDK configuration for the emulator named by `AWS_ENDPOINT_URL`, after checking it answers.
    pub async fn sdk_config() -> crate::aws::SdkConfig {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
            panic!(
                "AWS_ENDPOINT_URL is not set: this test runs against the local AWS emulator. \
                 Run it through `make test`, or start the stack with `make stack-up` and export the \
                 variables `make env` prints."
            )
        });
        let authority = endpoint
            .split_once("://")
            .map_or(endpoint.as_str(), |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let reachable = tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(&authority)).await;
        if !matches!(reachable, Ok(Ok(_))) {
            panic!(
                "the local AWS emulator does not answer at {endpoint}: start it with `make stack-up` (or run `make test`)"
            );
        }
        crate::aws::sdk_config().await
    }

    /// A name no other test run uses: `prefix` plus letters from the clock, the process and a counter.
    /// Letters only, so it is also a valid username suffix.
    pub fn unique(prefix: &str) -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let seed = format!(
            "{nanos}{}{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let letters: String = seed
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| char::from(b'a' + (b - b'0')))
            .collect();
        format!("{prefix}{letters}")
    }
}
