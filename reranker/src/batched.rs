//! Batching across callers: threads that score at the same time share one model pass.
//!
//! A server answers concurrent searches on a pool of threads; each search has a few dozen
//! pairs. Scored one search at a time, every pass pads to its own longest pair and several
//! passes fight over the same cores. [`Batched`] lets them queue instead: the first caller to
//! find the model idle becomes the *leader*, takes every pair queued so far (its own
//! included, up to a cap), scores them in one [`CrossEncoder::score_pairs`] call (which sorts
//! them by length into full batches) and hands each caller its scores. Pairs that arrive
//! during a pass wait for the next one. There is no thread of its own and no timer: a caller
//! alone is scored at once, so batching adds no latency when there is nothing to batch.
//!
//! A failed combined pass is retried one caller at a time, so one caller's bad input fails
//! only that caller. A model that panics unwinds the leader's thread (whichever caller's pairs
//! caused it); the pass's other callers get [`ScoreError::Abandoned`] and the model is freed
//! for the next leader.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::error::ScoreError;
use crate::models::ModelInfo;
use crate::CrossEncoder;

/// A cross-encoder whose concurrent callers are scored together (see the module docs).
#[derive(Debug)]
pub struct Batched<E> {
    inner: E,
    max_pairs: usize,
    queue: Mutex<Queue>,
    turn: Condvar,
    passes: AtomicU64,
    pairs: AtomicU64,
}

#[derive(Debug, Default)]
struct Queue {
    /// A leader is scoring.
    busy: bool,
    next_id: u64,
    waiting: Vec<Job>,
    done: HashMap<u64, Result<Vec<f32>, ScoreError>>,
}

#[derive(Debug)]
struct Job {
    id: u64,
    pairs: Vec<(String, String)>,
}

/// How many passes a [`Batched`] ran and how many pairs they scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchStats {
    /// Model passes (each one [`CrossEncoder::score_pairs`] call on the inner model).
    pub passes: u64,
    /// Pairs scored over all passes.
    pub pairs: u64,
}

impl<E: CrossEncoder> Batched<E> {
    /// Wraps `inner`; a pass takes queued callers until it holds `max_pairs` pairs (a caller
    /// with more is scored alone, whole). `max_pairs` 0 counts as 1.
    pub fn new(inner: E, max_pairs: usize) -> Self {
        Batched {
            inner,
            max_pairs: max_pairs.max(1),
            queue: Mutex::new(Queue::default()),
            turn: Condvar::new(),
            passes: AtomicU64::new(0),
            pairs: AtomicU64::new(0),
        }
    }

    /// The wrapped model.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// Passes run and pairs scored so far: `pairs / passes` is the mean batch.
    pub fn stats(&self) -> BatchStats {
        BatchStats {
            passes: self.passes.load(Ordering::Relaxed),
            pairs: self.pairs.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the lock leaves the queue consistent (every update is one
        // push, remove or flag), so a poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes waiting jobs in arrival order until `max_pairs` (at least one job).
    fn take(&self, q: &mut Queue) -> Vec<Job> {
        let mut n = 0;
        let mut count = 0;
        for job in &q.waiting {
            if count > 0 && n + job.pairs.len() > self.max_pairs {
                break;
            }
            n += job.pairs.len();
            count += 1;
        }
        q.waiting.drain(..count).collect()
    }

    /// Scores `jobs` in one pass, or each alone if the pass fails.
    fn score_jobs(&self, jobs: &[Job]) -> Vec<Result<Vec<f32>, ScoreError>> {
        let all: Vec<(&str, &str)> = jobs
            .iter()
            .flat_map(|j| j.pairs.iter().map(|(q, p)| (q.as_str(), p.as_str())))
            .collect();
        self.passes.fetch_add(1, Ordering::Relaxed);
        self.pairs.fetch_add(all.len() as u64, Ordering::Relaxed);
        match self.inner.score_pairs(&all) {
            Ok(scores) if scores.len() == all.len() => {
                let mut rest = scores.as_slice();
                jobs.iter()
                    .map(|j| {
                        let (mine, tail) = rest.split_at(j.pairs.len());
                        rest = tail;
                        Ok(mine.to_vec())
                    })
                    .collect()
            }
            Ok(scores) if jobs.len() == 1 => vec![Err(ScoreError::Shape {
                got: scores.len(),
                batch: all.len(),
            })],
            Err(e) if jobs.len() == 1 => vec![Err(e)],
            _ => jobs
                .iter()
                .map(|j| self.score_jobs(std::slice::from_ref(j)).remove(0))
                .collect(),
        }
    }
}

/// Frees the model if a leader unwinds: its callers get [`ScoreError::Abandoned`].
struct Leading<'a, E: CrossEncoder> {
    batched: &'a Batched<E>,
    /// The other callers in the pass (the leader's own thread is the one unwinding).
    ids: Vec<u64>,
    finished: bool,
}

impl<E: CrossEncoder> Drop for Leading<'_, E> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut q = self.batched.lock();
        for &id in &self.ids {
            q.done.insert(id, Err(ScoreError::Abandoned));
        }
        q.busy = false;
        drop(q);
        self.batched.turn.notify_all();
    }
}

impl<E: CrossEncoder> CrossEncoder for Batched<E> {
    fn score_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>, ScoreError> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = self.lock();
        let id = q.next_id;
        q.next_id += 1;
        q.waiting.push(Job {
            id,
            pairs: pairs
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
        });
        loop {
            if let Some(result) = q.done.remove(&id) {
                return result;
            }
            if q.busy {
                q = self.turn.wait(q).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            q.busy = true;
            let jobs = self.take(&mut q);
            drop(q);
            let mut leading = Leading {
                batched: self,
                ids: jobs.iter().map(|j| j.id).filter(|&j| j != id).collect(),
                finished: false,
            };
            let results = self.score_jobs(&jobs);
            q = self.lock();
            for (job, result) in jobs.iter().zip(results) {
                q.done.insert(job.id, result);
            }
            q.busy = false;
            leading.finished = true;
            self.turn.notify_all();
        }
    }

    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::time::Duration;

    /// Scores a pair by its passage's length (so results are checkable), slowly, counting
    /// calls; a passage "boom" fails its pass, "panic" panics.
    #[derive(Debug)]
    struct Slow {
        info: ModelInfo,
        calls: AtomicUsize,
    }

    impl CrossEncoder for Slow {
        fn score_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>, ScoreError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30));
            if pairs.iter().any(|(_, p)| *p == "panic") {
                panic!("a model bug");
            }
            if pairs.iter().any(|(_, p)| *p == "boom") {
                return Err(ScoreError::Shape { got: 0, batch: 1 });
            }
            Ok(pairs
                .iter()
                .map(|(q, p)| (q.len() * 1000 + p.len()) as f32)
                .collect())
        }

        fn info(&self) -> &ModelInfo {
            &self.info
        }
    }

    fn slow() -> Slow {
        Slow {
            info: ModelInfo {
                path: "slow".into(),
                backend: crate::Backend::Candle,
                max_len: 8,
                fingerprint: "slow".into(),
            },
            calls: AtomicUsize::new(0),
        }
    }

    fn expected(q: &str, ps: &[&str]) -> Vec<f32> {
        ps.iter()
            .map(|p| (q.len() * 1000 + p.len()) as f32)
            .collect()
    }

    #[test]
    fn concurrent_callers_share_passes_and_each_gets_its_own_scores() {
        let b = Arc::new(Batched::new(slow(), 1000));
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let b = b.clone();
                std::thread::spawn(move || {
                    let q = "q".repeat(i + 1);
                    let ps: Vec<String> = (0..(i % 5 + 1)).map(|j| "p".repeat(j + i)).collect();
                    let refs: Vec<&str> = ps.iter().map(String::as_str).collect();
                    let got = b.score(&q, &refs).unwrap();
                    assert_eq!(got, expected(&q, &refs), "caller {i}");
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let calls = b.inner().calls.load(Ordering::SeqCst);
        assert!(calls < 16, "16 concurrent callers took {calls} passes");
        assert_eq!(b.stats().passes as usize, calls);
        assert_eq!(b.stats().pairs, (0..16).map(|i| i % 5 + 1).sum::<u64>());
    }

    #[test]
    fn a_lone_caller_is_scored_in_one_pass_and_empty_input_in_none() {
        let b = Batched::new(slow(), 4);
        assert_eq!(
            b.score("q", &["a", "bb"]).unwrap(),
            expected("q", &["a", "bb"])
        );
        assert!(b.score("q", &[]).unwrap().is_empty());
        // More pairs than the cap: scored whole, alone.
        let many = ["x"; 9];
        assert_eq!(b.score("q", &many).unwrap(), expected("q", &many));
        assert_eq!(b.inner().calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_cap_splits_passes() {
        let b = Arc::new(Batched::new(slow(), 3));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || b.score("q", &["a", "b"]).unwrap())
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), expected("q", &["a", "b"]));
        }
        // Two pairs a caller and a cap of three: one caller a pass.
        assert_eq!(b.stats().passes, 6);
    }

    #[test]
    fn one_callers_failure_fails_only_that_caller() {
        let b = Arc::new(Batched::new(slow(), 1000));
        // Hold the model so the next callers queue into one pass.
        let first = {
            let b = b.clone();
            std::thread::spawn(move || b.score("q", &["hold"]).unwrap())
        };
        std::thread::sleep(Duration::from_millis(10));
        let callers: Vec<_> = ["ok", "boom", "fine"]
            .into_iter()
            .map(|p| {
                let b = b.clone();
                std::thread::spawn(move || b.score("q", &[p]).map_err(|e| e.to_string()))
            })
            .collect();
        assert_eq!(first.join().unwrap(), expected("q", &["hold"]));
        let got: Vec<_> = callers.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(got[0], Ok(expected("q", &["ok"])));
        assert!(got[1].is_err());
        assert_eq!(got[2], Ok(expected("q", &["fine"])));
    }

    #[test]
    fn a_panicking_pass_fails_its_callers_and_frees_the_model() {
        let b = Arc::new(Batched::new(slow(), 1000));
        let b2 = b.clone();
        let panicked = std::thread::spawn(move || b2.score("q", &["panic"])).join();
        assert!(panicked.is_err(), "the leader's own thread unwinds");
        // A caller that shared the panicking pass gets an error, not a hang.
        let first = {
            let b = b.clone();
            std::thread::spawn(move || b.score("q", &["hold"]).unwrap())
        };
        std::thread::sleep(Duration::from_millis(10));
        let (b3, b4) = (b.clone(), b.clone());
        let bad = std::thread::spawn(move || b3.score("q", &["panic"]).map_err(|e| e.to_string()));
        std::thread::sleep(Duration::from_millis(5));
        let shared = std::thread::spawn(move || b4.score("q", &["a"]).map_err(|e| e.to_string()));
        first.join().unwrap();
        // Each outcome: None if the thread unwound (it led the panicking pass), else its result.
        let bad = bad.join().ok();
        let shared = shared.join().ok();
        let abandoned =
            |r: &Result<Vec<f32>, String>| matches!(r, Err(e) if e.contains("abandoned"));
        assert!(
            bad.is_none() || shared.is_none(),
            "the panic unwinds the leader"
        );
        // Whoever did not lead was either in the panicking pass (told it was abandoned) or
        // scored in a pass of its own.
        if let Some(r) = &bad {
            assert!(abandoned(r), "{r:?}");
        }
        if let Some(r) = &shared {
            assert!(abandoned(r) || r == &Ok(expected("q", &["a"])), "{r:?}");
        }
        assert!(b.lock().done.is_empty(), "no result is left behind");
        // The model is free again, and a later caller is scored.
        assert_eq!(b.score("q", &["a"]).unwrap(), expected("q", &["a"]));
    }
}
