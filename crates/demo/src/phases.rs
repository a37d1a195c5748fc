//! The demo's phases: a progress bar or spinner each while it runs (indicatif, on a terminal), a line when
//! it ends (always, so a log shows it too), and its wall time for the reports.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::outcome::PhaseTime;

/// Every phase so far, and where their bars are drawn.
#[derive(Debug, Clone)]
pub struct Phases {
    bars: MultiProgress,
    times: Arc<Mutex<Vec<PhaseTime>>>,
}

impl Default for Phases {
    fn default() -> Self {
        Self::new()
    }
}

impl Phases {
    /// Bars on standard error when it is a terminal; otherwise only the closing lines.
    pub fn new() -> Self {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self {
            bars: MultiProgress::with_draw_target(target),
            times: Arc::default(),
        }
    }

    /// A phase of unknown length: a spinner.
    pub fn start(&self, name: &str) -> Phase {
        let bar = self.bars.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} [{elapsed}] {msg}") {
            bar.set_style(style);
        }
        self.begin(name, bar)
    }

    /// A phase of `seconds`: a bar that fills as they pass.
    pub fn start_bar(&self, name: &str, seconds: u64) -> Phase {
        let bar = self.bars.add(ProgressBar::new(seconds));
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner:.cyan} {prefix:.bold} [{elapsed}] {bar:30.cyan/blue} {pos}/{len} s {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        self.begin(name, bar)
    }

    /// A phase whose own program prints as it goes (`volley run`): no bar drawn over its lines, only the
    /// closing line and its time.
    pub fn start_quiet(&self, name: &str) -> Phase {
        Phase {
            name: name.to_owned(),
            bar: ProgressBar::hidden(),
            began: Instant::now(),
            bars: self.bars.clone(),
            times: Arc::clone(&self.times),
        }
    }

    fn begin(&self, name: &str, bar: ProgressBar) -> Phase {
        bar.set_prefix(name.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Phase {
            name: name.to_owned(),
            bar,
            began: Instant::now(),
            bars: self.bars.clone(),
            times: Arc::clone(&self.times),
        }
    }

    /// The finished phases' wall times, in order.
    pub fn times(&self) -> Vec<PhaseTime> {
        self.times.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// A running phase.
#[derive(Debug)]
pub struct Phase {
    name: String,
    bar: ProgressBar,
    began: Instant,
    bars: MultiProgress,
    times: Arc<Mutex<Vec<PhaseTime>>>,
}

impl Phase {
    pub fn set_position(&self, position: u64) {
        self.bar
            .set_position(position.min(self.bar.length().unwrap_or(u64::MAX)));
    }

    pub fn message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Ends the phase with what it achieved; records its time.
    pub fn finish(self, outcome: String) {
        let took = self.began.elapsed();
        self.bar.finish_and_clear();
        let line = format!("✓ {:<58} {:>7.1} s  {outcome}", self.name, took.as_secs_f64());
        if self.bars.println(&line).is_err() || self.bars.is_hidden() {
            eprintln!("{line}");
        }
        if let Ok(mut times) = self.times.lock() {
            times.push(PhaseTime {
                name: self.name,
                seconds: took.as_secs_f64(),
            });
        }
    }
}
