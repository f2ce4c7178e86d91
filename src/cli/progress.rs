//! Progress bars on stderr (hidden when stderr is not a terminal, or with `--json`).

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ingest::Progress;

/// Draws one bar per source.
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    pub fn new(hidden: bool) -> Bars {
        let target = if hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Bars {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, id: &str) -> ProgressBar {
        let mut bars = self.bars.lock().expect("bars lock");
        bars.entry(id.to_string())
            .or_insert_with(|| {
                let b = self.multi.add(ProgressBar::new_spinner());
                b.set_prefix(id.to_string());
                b.set_style(
                    ProgressStyle::with_template("{prefix:>16.bold} {spinner} {msg}")
                        .expect("template"),
                );
                b
            })
            .clone()
    }

    pub fn handle(&self, event: Progress) {
        match event {
            Progress::Resolving { id, message } => self.bar(id).set_message(message),
            Progress::Start { id, files } => {
                let b = self.bar(id);
                b.set_length(files);
                b.set_position(0);
                b.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>16.bold} [{bar:30}] {pos}/{len} files {per_sec} eta {eta}",
                    )
                    .expect("template")
                    .progress_chars("=> "),
                );
            }
            Progress::Advance { id, n } => self.bar(id).inc(n),
            Progress::Finish { id } => self.bar(id).finish_and_clear(),
        }
    }
}

/// One bar at a time on stderr (training steps, generation, scoring); hidden under `--json`.
/// Eval reports from its scoring threads, so the bar sits behind a lock.
pub struct StepBar {
    hidden: bool,
    current: Mutex<ProgressBar>,
}

impl StepBar {
    pub fn new(hidden: bool) -> StepBar {
        StepBar {
            hidden,
            current: Mutex::new(ProgressBar::hidden()),
        }
    }

    /// Replaces the current bar by a new one of `len` steps (None: unknown) drawn with
    /// `template`.
    pub fn start(&self, len: Option<u64>, template: &str) {
        let bar = if self.hidden {
            ProgressBar::hidden()
        } else {
            ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr())
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("static template")
                .progress_chars("=> "),
        );
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = bar;
    }

    pub fn get(&self) -> ProgressBar {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Draws what an eval run reports (`vcurate eval run` and the quickstart's evaluation).
    pub fn eval_event(&self, event: crate::eval::RunEvent<'_>) {
        use crate::eval::RunEvent;
        match event {
            RunEvent::GenerationStarted { total } => self.start(
                Some(total),
                "generating [{bar:30}] {pos}/{len} samples {msg} {elapsed}",
            ),
            RunEvent::Generated { tokens_per_second } => {
                let bar = self.get();
                bar.set_message(format!("{tokens_per_second:.1} tok/s"));
                bar.inc(1);
            }
            RunEvent::GenerationFinished {
                responses,
                tokens,
                tokens_per_second,
                file,
            } => {
                self.get().finish_and_clear();
                eprintln!(
                    "generated {responses} responses ({tokens} tokens, {tokens_per_second:.1} tok/s) into {}",
                    file.display()
                );
            }
            RunEvent::ScoringStarted { total } => self.start(
                Some(total),
                "scoring [{bar:30}] {pos}/{len} samples {elapsed}",
            ),
            RunEvent::Scored => self.get().inc(1),
            RunEvent::ScoringFinished => self.get().finish_and_clear(),
            RunEvent::Warning(w) => eprintln!("warning: {w}"),
        }
    }
}
