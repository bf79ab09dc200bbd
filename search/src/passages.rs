//! Long documents as passages: a cross-encoder reads a few hundred tokens, so a document
//! longer than that is cut into overlapping windows of its body, each with the title in front,
//! and scored by its best window (the MaxP rule of Dai & Callan, SIGIR 2019).

use reranker::CrossEncoder;

use crate::error::Result;

use crate::rerank::passage_text;

/// How a document is cut into the passages a cross-encoder reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Passages {
    /// At most this many passages per document; 1 (the default) reads the first only: the
    /// title and the start of the body, as far as the model's `max_len` reaches.
    pub max: usize,
    /// Words of body per passage (150: with a title and a query, about 200–230 word-piece
    /// tokens of English, within a `max_len` of 256).
    pub words: usize,
    /// Words from one passage's start to the next's (75: each overlaps the next by half).
    pub stride: usize,
}

impl Default for Passages {
    fn default() -> Self {
        Passages::first_only()
    }
}

impl Passages {
    /// The first passage only (title + the start of the body): how reranking worked before
    /// passages, and the default.
    pub fn first_only() -> Self {
        Passages {
            max: 1,
            words: 150,
            stride: 75,
        }
    }

    /// Up to `max` windows of 150 words, 75 apart (Dai & Callan's setting), each document
    /// scored by its best one. `max` is at least 1.
    pub fn max_p(max: usize) -> Self {
        Passages {
            max: max.max(1),
            ..Passages::first_only()
        }
    }

    /// The passages of one document. A body of at most [`Passages::words`] words (or a
    /// setting of one passage) gives exactly [`passage_text`]`(title, body)`, so scores of
    /// short documents do not change; a longer one gives windows `title + body[i·stride ..
    /// i·stride + words]` until one reaches the end of the body or there are `max`.
    pub fn split(&self, title: &str, body: &str) -> Vec<String> {
        match self.windows(body) {
            None => vec![passage_text(title, body)],
            Some(w) => w
                .into_iter()
                .map(|r| {
                    let words: Vec<&str> = body[r].split_whitespace().collect();
                    passage_text(title, &words.join(" "))
                })
                .collect(),
        }
    }

    /// Where [`Passages::split`]'s windows lie in `body`, as byte ranges from a window's first
    /// word to the end of its last: `None` when the body is read whole (one passage), else
    /// two or more ranges. (`split` joins a window's words with single spaces.)
    pub fn windows(&self, body: &str) -> Option<Vec<std::ops::Range<usize>>> {
        if self.max <= 1 {
            return None;
        }
        let base = body.as_ptr() as usize;
        let words: Vec<std::ops::Range<usize>> = body
            .split_whitespace()
            .map(|w| {
                let at = w.as_ptr() as usize - base;
                at..at + w.len()
            })
            .collect();
        let (size, stride) = (self.words.max(1), self.stride.max(1));
        if words.len() <= size {
            return None;
        }
        let mut out = Vec::new();
        let mut start = 0;
        while out.len() < self.max {
            let end = (start + size).min(words.len());
            out.push(words[start].start..words[end - 1].end);
            if end == words.len() {
                break;
            }
            start += stride;
        }
        Some(out)
    }
}

/// The median body length, in words, of a seeded sample of up to `sample` documents of the
/// index (0 for an empty index): how `retrain` tells a user whose documents are long that
/// the student reads only the start of each unless they are read as passages.
pub fn median_body_words(engine: &engine::Engine, sample: usize, seed: u64) -> Result<usize> {
    let mut words: Vec<usize> = engine
        .sample_documents(sample, seed)?
        .iter()
        .map(|d| d.body.split_whitespace().count())
        .collect();
    words.sort_unstable();
    Ok(words.get(words.len() / 2).copied().unwrap_or(0))
}

/// Each document's cross-encoder score for `query`: the best of its passages' logits. `docs`
/// are (title, body) pairs; all passages go to the model in one call.
pub fn score_documents(
    reranker: &dyn CrossEncoder,
    query: &str,
    docs: &[(&str, &str)],
    passages: &Passages,
) -> Result<Vec<f32>> {
    let split: Vec<Vec<String>> = docs.iter().map(|(t, b)| passages.split(t, b)).collect();
    let refs: Vec<&str> = split.iter().flatten().map(String::as_str).collect();
    let scores = reranker.score(query, &refs)?;
    let mut out = Vec::with_capacity(docs.len());
    let mut at = 0;
    for p in &split {
        let own = &scores[at..at + p.len()];
        // A NaN stays a NaN (the pipeline refuses it), rather than losing to a number.
        let best = match own.iter().any(|s| s.is_nan()) {
            true => f32::NAN,
            false => own.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        };
        out.push(best);
        at += p.len();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: usize) -> String {
        (0..n)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn short_documents_keep_their_one_passage() {
        let p = Passages::max_p(4);
        assert_eq!(
            p.split("T", &words(150)),
            vec![passage_text("T", &words(150))]
        );
        assert_eq!(
            Passages::first_only().split("T", &words(1000)),
            vec![passage_text("T", &words(1000))]
        );
        assert_eq!(p.split("", ""), vec![String::new()]);
    }

    #[test]
    fn long_documents_become_overlapping_titled_windows() {
        let p = Passages::max_p(4);
        let w = p.split("Title", &words(250));
        // Starts 0 and 75 (75 + 150 = 225 < 250), then 150, which reaches the end.
        assert_eq!(w.len(), 3);
        assert!(w.iter().all(|x| x.starts_with("Title w")));
        assert!(w[0].starts_with("Title w0 ") && w[0].ends_with(" w149"));
        assert!(w[1].starts_with("Title w75 ") && w[1].ends_with(" w224"));
        assert!(w[2].starts_with("Title w150 ") && w[2].ends_with(" w249"));
        // Capped at max: the tail of a very long document is not read.
        let w = p.split("Title", &words(10_000));
        assert_eq!(w.len(), 4);
        assert!(w[3].starts_with("Title w225 "));
    }

    #[test]
    fn windows_are_where_split_reads() {
        let body = format!("{}\n\n  {}", words(100), words(100));
        let p = Passages::max_p(4);
        let w = p.windows(&body).unwrap();
        let split = p.split("T", &body);
        assert_eq!(w.len(), split.len());
        for (r, text) in w.iter().zip(&split) {
            let joined: Vec<&str> = body[r.clone()].split_whitespace().collect();
            assert_eq!(passage_text("T", &joined.join(" ")), *text);
            assert!(!body[r.clone()].starts_with(char::is_whitespace));
        }
        assert_eq!(p.windows(&words(150)), None);
        assert_eq!(Passages::first_only().windows(&body), None);
    }

    /// Scores a passage by how often "hit" occurs in its first 160 words (a model reads a
    /// bounded number of tokens).
    #[derive(Debug)]
    struct Counting;
    impl CrossEncoder for Counting {
        fn score_pairs(
            &self,
            pairs: &[(&str, &str)],
        ) -> std::result::Result<Vec<f32>, reranker::ScoreError> {
            Ok(pairs
                .iter()
                .map(|(_, p)| {
                    p.split_whitespace()
                        .take(160)
                        .filter(|w| *w == "hit")
                        .count() as f32
                })
                .collect())
        }
        fn info(&self) -> &reranker::ModelInfo {
            unimplemented!("not needed")
        }
    }

    #[test]
    fn a_document_scores_its_best_passage() {
        // The evidence is past the first window: only MaxP finds it.
        let late = format!("{} hit hit hit", words(400));
        let early = format!("hit {}", words(400));
        let docs = [
            ("a", late.as_str()),
            ("b", early.as_str()),
            ("c", "short hit hit"),
        ];
        let first = score_documents(&Counting, "q", &docs, &Passages::first_only()).unwrap();
        assert_eq!(first, vec![0.0, 1.0, 2.0]);
        let maxp = score_documents(&Counting, "q", &docs, &Passages::max_p(8)).unwrap();
        assert_eq!(maxp, vec![3.0, 1.0, 2.0]);
    }
}
