//! Progress for long-running steps: a spinner on a terminal, one line per
//! step otherwise (CI logs).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// A step in progress; finish it with [`Step::done`].
pub struct Step {
    bar: Option<ProgressBar>,
    message: String,
}

impl Step {
    /// Starts a step with `message`.
    pub fn start(message: impl Into<String>) -> Self {
        let message = message.into();
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(message.clone());
            bar.enable_steady_tick(Duration::from_millis(80));
            Step {
                bar: Some(bar),
                message,
            }
        } else {
            eprintln!("► {message}");
            Step { bar: None, message }
        }
    }

    /// Marks the step done, with a short result.
    pub fn done(self, result: impl AsRef<str>) {
        let line = format!("✔ {} {}", self.message, result.as_ref());
        let line = line.trim_end();
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        eprintln!("{line}");
    }
}
