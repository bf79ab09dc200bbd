//! Progress of long jobs on stderr: a bar with rate and ETA on a terminal, plain lines
//! when stderr is a file or a pipe (so `nohup` and CI logs show it too): one every ten
//! seconds and one when a stage that printed any ends. A job shorter than ten seconds prints
//! nothing, so short commands keep stderr for their errors.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Progress through named stages, each with a count of done and total units.
pub struct StageProgress {
    bar: Option<ProgressBar>,
    stage: String,
    unit: &'static str,
    started: Instant,
    done_at_start: usize,
    last_line: Instant,
    last: (usize, usize),
    printed: bool,
}

const LINE_EVERY: Duration = Duration::from_secs(10);

impl StageProgress {
    /// A bar if stderr is a terminal, else plain lines.
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:16} {bar:30} {pos}/{len} ({per_sec}, {eta} left)",
                )
                .expect("valid template"),
            );
            bar
        });
        StageProgress {
            bar,
            stage: String::new(),
            unit: "",
            started: Instant::now(),
            done_at_start: 0,
            last_line: Instant::now(),
            last: (0, 0),
            printed: false,
        }
    }

    /// Reports `done` of `total` units (`unit`: "queries", "steps" ...) in `stage`.
    pub fn update(&mut self, stage: &str, unit: &'static str, done: usize, total: usize) {
        if stage != self.stage {
            self.end_stage();
            self.stage = stage.to_owned();
            self.unit = unit;
            self.started = Instant::now();
            self.done_at_start = done.saturating_sub(1);
            self.last_line = Instant::now();
            if let Some(bar) = &self.bar {
                bar.reset();
                if total == 0 {
                    bar.set_style(
                        ProgressStyle::with_template("{msg:16} {pos} ({per_sec}) {elapsed}")
                            .expect("valid template"),
                    );
                }
                bar.set_message(stage.to_owned());
            }
            self.printed = false;
        }
        self.last = (done, total);
        match &self.bar {
            Some(bar) => {
                if total > 0 {
                    bar.set_length(total as u64);
                }
                bar.set_position(done as u64);
            }
            None if self.last_line.elapsed() >= LINE_EVERY => {
                self.last_line = Instant::now();
                self.printed = true;
                eprintln!("{}", self.line());
            }
            None => {}
        }
    }

    fn line(&self) -> String {
        let (done, total) = self.last;
        let secs = self.started.elapsed().as_secs_f64();
        let rate = (done.saturating_sub(self.done_at_start)) as f64 / secs.max(1e-9);
        if total == 0 {
            // An unknown total (a stream of documents): the count and the rate.
            return format!("{}: {done} {} ({rate:.1}/s)", self.stage, self.unit);
        }
        let eta = if rate > 0.0 && total > done {
            format!(", {} left", human((total - done) as f64 / rate))
        } else {
            String::new()
        };
        format!(
            "{}: {done}/{total} {} ({:.0}%, {rate:.1}/s{eta})",
            self.stage,
            self.unit,
            100.0 * done as f64 / total.max(1) as f64
        )
    }

    fn end_stage(&mut self) {
        if self.stage.is_empty() {
            return;
        }
        let took = human(self.started.elapsed().as_secs_f64());
        match &self.bar {
            Some(bar) => bar.println(format!("{}: done in {took}", self.stage)),
            None if self.printed => eprintln!("{} (done in {took})", self.line()),
            None => {}
        }
    }

    /// Ends the last stage and removes the bar.
    pub fn finish(mut self) {
        self.end_stage();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `95 s`, `4 min 05 s`, `1 h 02 min`.
pub fn human(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s < 100 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    }
}
