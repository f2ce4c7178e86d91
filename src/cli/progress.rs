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
