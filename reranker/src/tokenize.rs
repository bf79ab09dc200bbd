//! Pair tokenization: `[CLS] query [SEP] passage [SEP]` with token type ids, truncating the
//! passage rather than the query, and padding to the longest sequence of a batch.

use std::path::Path;

use tokenizers::{Encoding, Tokenizer, TruncationDirection};

use crate::error::{LoadError, ScoreError};

/// One tokenized (query, passage) pair, unpadded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPair {
    /// Token ids, special tokens included.
    pub ids: Vec<u32>,
    /// Segment ids: 0 for the query part, 1 for the passage part.
    pub type_ids: Vec<u32>,
}

/// A padded batch in the layout BERT-style models take: row-major `[batch, seq_len]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Rows.
    pub batch: usize,
    /// Columns: the longest pair in the batch.
    pub seq_len: usize,
    /// Token ids, padded with the tokenizer's pad id.
    pub input_ids: Vec<i64>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<i64>,
    /// Segment ids, 0 for padding.
    pub token_type_ids: Vec<i64>,
}

impl Batch {
    /// Pads pairs to the longest one.
    pub fn pad(pairs: &[&EncodedPair], pad_id: u32) -> Batch {
        let seq_len = pairs.iter().map(|p| p.ids.len()).max().unwrap_or(0);
        let n = pairs.len() * seq_len;
        let mut b = Batch {
            batch: pairs.len(),
            seq_len,
            input_ids: Vec::with_capacity(n),
            attention_mask: Vec::with_capacity(n),
            token_type_ids: Vec::with_capacity(n),
        };
        for p in pairs {
            let pad = seq_len - p.ids.len();
            b.input_ids.extend(p.ids.iter().map(|&x| i64::from(x)));
            b.input_ids
                .extend(std::iter::repeat_n(i64::from(pad_id), pad));
            b.attention_mask.extend(std::iter::repeat_n(1, p.ids.len()));
            b.attention_mask.extend(std::iter::repeat_n(0, pad));
            b.token_type_ids
                .extend(p.type_ids.iter().map(|&x| i64::from(x)));
            b.token_type_ids.extend(std::iter::repeat_n(0, pad));
        }
        b
    }
}

/// Turns (query, passage) pairs into model inputs with a `tokenizer.json`.
///
/// Whatever padding and truncation the file carries are ignored (the teacher's pads every
/// input to 512, MiniLM's truncates to 128): pairs are cut to `max_len` tokens here, and padded
/// per batch by [`Batch::pad`].
///
/// Truncation keeps the query whole and cuts the passage's tail. Only a query so long that it
/// would leave the passage less than half of the room is cut too, to half of it.
#[derive(Clone)]
pub struct PairTokenizer {
    tokenizer: Tokenizer,
    max_len: usize,
    pad_id: u32,
    special_tokens: usize,
}

impl std::fmt::Debug for PairTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairTokenizer")
            .field("max_len", &self.max_len)
            .field("pad_id", &self.pad_id)
            .finish()
    }
}

/// The default maximum pair length in tokens.
pub const DEFAULT_MAX_LEN: usize = 256;

impl PairTokenizer {
    /// Loads `tokenizer.json`. `max_len` must be between 8 and 512.
    pub fn from_file(path: impl AsRef<Path>, max_len: usize) -> Result<Self, LoadError> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(LoadError::MissingFile { path: path.into() });
        }
        let mut tokenizer =
            Tokenizer::from_file(path).map_err(|e| LoadError::unreadable(path, e))?;
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| tokenizer.token_to_id("[PAD]"))
            .or_else(|| tokenizer.token_to_id("<pad>"))
            .unwrap_or(0);
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| LoadError::unreadable(path, e))?;
        let special_tokens = tokenizer
            .get_post_processor()
            .map(|p| tokenizers::PostProcessor::added_tokens(p, true))
            .unwrap_or(0);
        if !(8..=512).contains(&max_len) {
            return Err(LoadError::Corrupt {
                path: path.into(),
                message: format!("max_len {max_len} is outside 8..=512"),
            });
        }
        Ok(PairTokenizer {
            tokenizer,
            max_len,
            pad_id,
            special_tokens,
        })
    }

    /// The maximum pair length in tokens.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The bytes of text kept before tokenizing: 128 per token of `max_len`. No text longer
    /// than that can add a token within `max_len`: a word-piece token covers at least one
    /// character, and BERT's tokenizer maps a word of more than 100 characters to one
    /// `[UNK]`, so `max_len` tokens never span more than ~100 bytes each.
    pub fn char_budget(&self) -> usize {
        self.max_len * 128
    }

    /// The id used for padding.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    fn encode_text(&self, text: &str) -> Result<Encoding, ScoreError> {
        self.tokenizer
            .encode(text, false)
            .map_err(ScoreError::Tokenize)
    }

    fn join(&self, query: &Encoding, passage: &Encoding) -> Result<EncodedPair, ScoreError> {
        let room = self.max_len.saturating_sub(self.special_tokens);
        let q_keep = query
            .len()
            .min((room / 2).max(room.saturating_sub(passage.len())));
        let p_keep = passage.len().min(room - q_keep);
        let mut q = query.clone();
        let mut p = passage.clone();
        if q.len() > q_keep {
            q.truncate(q_keep, 0, TruncationDirection::Right);
        }
        if p.len() > p_keep {
            p.truncate(p_keep, 0, TruncationDirection::Right);
        }
        let joined = self
            .tokenizer
            .post_process(q, Some(p), true)
            .map_err(ScoreError::Tokenize)?;
        Ok(EncodedPair {
            ids: joined.get_ids().to_vec(),
            type_ids: joined.get_type_ids().to_vec(),
        })
    }

    /// Encodes pairs; consecutive pairs with the same query share one query encoding.
    ///
    /// Texts are cut to [`PairTokenizer::char_budget`] bytes before tokenizing, so a passage
    /// of megabytes costs what its first `max_len` tokens cost.
    pub fn encode_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<EncodedPair>, ScoreError> {
        let budget = self.char_budget();
        let passages: Vec<&str> = pairs.iter().map(|(_, p)| cut(p, budget)).collect();
        let encoded = self
            .tokenizer
            .encode_batch(passages, false)
            .map_err(ScoreError::Tokenize)?;
        let mut out = Vec::with_capacity(pairs.len());
        let mut last: Option<(&str, Encoding)> = None;
        for ((query, _), passage) in pairs.iter().zip(&encoded) {
            let q = match &last {
                Some((text, enc)) if text == query => enc,
                _ => {
                    last = Some((query, self.encode_text(cut(query, budget))?));
                    &last.as_ref().expect("just set").1
                }
            };
            out.push(self.join(q, passage)?);
        }
        Ok(out)
    }
}

impl PairTokenizer {
    /// Tokenizes `pairs` and scores them with `forward` in length-sorted batches of at most
    /// `batch_size` (see [`score_sorted`]): the scoring path every backend shares.
    pub(crate) fn score_pairs_with(
        &self,
        pairs: &[(&str, &str)],
        batch_size: usize,
        forward: impl FnMut(&Batch) -> Result<Vec<f32>, ScoreError>,
    ) -> Result<Vec<f32>, ScoreError> {
        let encoded = self.encode_pairs(pairs)?;
        score_sorted(&encoded, batch_size, self.pad_id, forward)
    }
}

/// `text` cut to at most `budget` bytes, at a character boundary.
fn cut(text: &str, budget: usize) -> &str {
    if text.len() <= budget {
        return text;
    }
    let mut end = budget;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Scores encoded pairs in batches of at most `batch_size`, shortest first so that pairs of
/// similar length share a batch and padding stays small; returns scores in input order.
pub(crate) fn score_sorted(
    encoded: &[EncodedPair],
    batch_size: usize,
    pad_id: u32,
    mut forward: impl FnMut(&Batch) -> Result<Vec<f32>, ScoreError>,
) -> Result<Vec<f32>, ScoreError> {
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    order.sort_by_key(|&i| encoded[i].ids.len());
    let mut scores = vec![0f32; encoded.len()];
    for chunk in order.chunks(batch_size.max(1)) {
        let rows: Vec<&EncodedPair> = chunk.iter().map(|&i| &encoded[i]).collect();
        let batch = Batch::pad(&rows, pad_id);
        let out = forward(&batch)?;
        if out.len() != chunk.len() {
            return Err(ScoreError::Shape {
                got: out.len(),
                batch: chunk.len(),
            });
        }
        for (&i, s) in chunk.iter().zip(out) {
            scores[i] = s;
        }
    }
    Ok(scores)
}
