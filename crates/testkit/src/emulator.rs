//! Helpers for tests that run over the wire against the local AWS emulator. They never skip: a missing
//! emulator is a loud failure that says how to start it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The SDK configuration for the emulator named by `AWS_ENDPOINT_URL`, after checking it answers.
pub async fn sdk_config() -> volley_core::aws::SdkConfig {
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
    volley_core::aws::sdk_config().await
}

/// Polls `check` every half second until it answers Some, or fails after `limit` saying what it awaited.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
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

/// One output of the deployed local stack, from the outputs file `make stack-deploy` writes
/// (target/local-stack/outputs.json, or `VOLLEY_STACK_OUTPUTS`).
pub fn stack_output(name: &str) -> String {
    let path = stack_outputs_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{path}: {e}. Deploy the local stack first: `make stack-deploy` (run by `make test`)")
    });
    let outputs: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    outputs[name]
        .as_str()
        .unwrap_or_else(|| panic!("{path} has no {name} output: redeploy with `make stack-deploy`"))
        .to_owned()
}

/// Where the deployed stack's outputs are (`VOLLEY_STACK_OUTPUTS`, or what `make stack-deploy` writes).
pub fn stack_outputs_path() -> String {
    std::env::var("VOLLEY_STACK_OUTPUTS")
        .unwrap_or_else(|_| format!("{}/../../target/local-stack/outputs.json", env!("CARGO_MANIFEST_DIR")))
}

/// A binary of the workspace as `make build` left it (`volley`, `volley-demo`): in `CARGO_TARGET_DIR`, or
/// the workspace's target directory, dev profile.
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    let target =
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| format!("{}/../../target", env!("CARGO_MANIFEST_DIR")));
    let path = std::path::Path::new(&target).join("debug").join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it first (`make build`, run by `make test`)",
        path.display()
    );
    path
}

/// The output `name` of the stack in `region`: the first region's (`StackRegion`), or the second's
/// (`SecondRegion`, deployed into the same emulator).
pub fn stack_output_in(region: &str, name: &str) -> String {
    if region == stack_output("StackRegion") {
        stack_output(name)
    } else {
        stack_output(&format!("{name}@{region}"))
    }
}

/// The processes on this machine, other than this one, with a TCP connection open to `port` on
/// loopback: which of the local stack's function processes are talking to a test's target right now
/// (each socket's inode in `/proc/net/tcp` found among the processes' descriptors). Linux only.
pub fn processes_connected_to(port: u16) -> Vec<u32> {
    let mut inodes = std::collections::HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(state), Some(inode)) = (fields.get(2), fields.get(3), fields.get(9)) else {
                continue;
            };
            let remote_port = remote.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
            // 01: ESTABLISHED.
            if remote_port == Some(port) && *state == "01" {
                inodes.insert(format!("socket:[{inode}]"));
            }
        }
    }
    let own = std::process::id();
    let mut pids = Vec::new();
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in processes.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == own {
            continue;
        }
        let Ok(descriptors) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let connected = descriptors.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| inodes.contains(target.to_string_lossy().as_ref()))
        });
        if connected {
            pids.push(pid);
        }
    }
    pids
}
