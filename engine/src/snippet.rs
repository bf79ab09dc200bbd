//! Query-aware snippets: the passage of a text that holds the most (and rarest) of a query's
//! terms, with the byte ranges of the matches, from tantivy's snippet generator over the
//! index's own analyzer (so `folding` highlights `folded` under stemming).

use std::ops::Range;

use tantivy::snippet::SnippetGenerator;

use crate::error::Result;
use crate::index::Engine;

/// A snippet's text is chosen from at most this many leading bytes of a document, so that a
/// huge document costs what a normal one does.
const MAX_SCANNED_BYTES: usize = 64 << 10;

/// A passage of a document for a query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snippet {
    /// The passage (line breaks and tabs shown as spaces).
    pub text: String,
    /// Byte ranges of `text` that match a query term, in order.
    pub highlights: Vec<Range<usize>>,
}

impl Snippet {
    /// The text with each highlight wrapped in `open` and `close` (`**`, `<mark>` ...).
    pub fn marked(&self, open: &str, close: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + 8 * self.highlights.len());
        let mut at = 0;
        for r in &self.highlights {
            if r.start < at || r.end > self.text.len() {
                continue;
            }
            out.push_str(&self.text[at..r.start]);
            out.push_str(open);
            out.push_str(&self.text[r.clone()]);
            out.push_str(close);
            at = r.end;
        }
        out.push_str(&self.text[at..]);
        out
    }
}

impl Engine {
    /// One snippet of at most about `max_chars` characters for each text, for `query` (read
    /// as a lenient query). A text without a query term gets its beginning, unhighlighted.
    pub fn snippets(&self, query: &str, texts: &[&str], max_chars: usize) -> Result<Vec<Snippet>> {
        self.limits().check_query(query)?;
        let generator = match self.lenient_query(query)? {
            Some(q) => {
                let mut g =
                    SnippetGenerator::create(&self.reader.searcher(), q.as_ref(), self.fields.all)?;
                g.set_max_num_chars(max_chars);
                Some(g)
            }
            None => None,
        };
        Ok(texts
            .iter()
            .map(|text| {
                let text = cut(text, MAX_SCANNED_BYTES);
                let found = generator.as_ref().map(|g| g.snippet(text));
                match found {
                    Some(s) if !s.is_empty() => Snippet {
                        text: flatten(s.fragment()),
                        highlights: s.highlighted().to_vec(),
                    },
                    _ => Snippet {
                        text: flatten(cut(text, beginning_bytes(text, max_chars))),
                        highlights: Vec::new(),
                    },
                }
            })
            .collect())
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Bytes of the first `chars` characters of `text`, ending at a word's end where there is one.
fn beginning_bytes(text: &str, chars: usize) -> usize {
    let end = text
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i);
    if end == text.len() {
        return end;
    }
    text[..end].rfind(char::is_whitespace).unwrap_or(end)
}

/// Line breaks and tabs as spaces, byte for byte (so highlight ranges stay valid).
fn flatten(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '\n' || c == '\r' || c == '\t' {
                ' '
            } else {
                c
            }
        })
        .collect()
}
