//! Index settings that must be the same at indexing and query time: text analysis.

use serde::{Deserialize, Serialize};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};

/// How text is cut into terms, for documents and queries alike.
///
/// Stored with the index (in `engine.json`), so an index is always queried with the analysis
/// it was built with. The default is English: split on non-alphanumeric characters, drop
/// tokens over 40 bytes, lower-case, Snowball English stemmer, no stop words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    /// The Snowball stemmer's language, or `None` for no stemming.
    pub stemmer: Option<Language>,
    /// Stop words to drop (tantivy's list for that language), or `None` to keep every word.
    #[serde(default)]
    pub stop_words: Option<Language>,
}

impl Default for Analysis {
    fn default() -> Self {
        Analysis {
            stemmer: Some(Language::English),
            stop_words: None,
        }
    }
}

impl Analysis {
    /// No stemming, no stop words: lower-cased words only.
    pub fn plain() -> Self {
        Analysis {
            stemmer: None,
            stop_words: None,
        }
    }

    /// The analysis named as a user gives it: a stemmer language (`english`, `french`, ...,
    /// or `none`) and whether to drop that language's stop words.
    pub fn from_names(stemmer: &str, stop_words: bool) -> crate::Result<Analysis> {
        let lang = Self::parse_language(stemmer).ok_or_else(|| {
            crate::Error::InvalidArgument(format!(
                "unknown stemmer language `{stemmer}` (english, french, german, ... or none)"
            ))
        })?;
        let stop = match (stop_words, lang) {
            (false, _) => None,
            (true, Some(l)) => Some(l),
            (true, None) => {
                return Err(crate::Error::InvalidArgument(
                    "stop words need a stemmer language to take the list from".into(),
                ))
            }
        };
        Ok(Analysis {
            stemmer: lang,
            stop_words: stop,
        })
    }

    /// Parses a language name as the CLI takes it (`english`, `french`, ... or `none`).
    pub fn parse_language(name: &str) -> Option<Option<Language>> {
        if name.eq_ignore_ascii_case("none") {
            return Some(None);
        }
        serde_json::from_value::<Language>(serde_json::Value::String(capitalize(name)))
            .ok()
            .map(Some)
    }

    /// Builds the tantivy analyzer.
    pub(crate) fn analyzer(&self) -> TextAnalyzer {
        let mut builder = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter_dynamic(RemoveLongFilter::limit(40))
            .filter_dynamic(LowerCaser);
        if let Some(lang) = self.stop_words {
            if let Some(filter) = StopWordFilter::new(lang) {
                builder = builder.filter_dynamic(filter);
            }
        }
        if let Some(lang) = self.stemmer {
            builder = builder.filter_dynamic(Stemmer::new(lang));
        }
        builder.build()
    }
}

fn capitalize(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// What `engine.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredSettings {
    pub(crate) format_version: u32,
    pub(crate) analysis: Analysis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_names() {
        assert_eq!(
            Analysis::parse_language("english"),
            Some(Some(Language::English))
        );
        assert_eq!(
            Analysis::parse_language("French"),
            Some(Some(Language::French))
        );
        assert_eq!(Analysis::parse_language("none"), Some(None));
        assert_eq!(Analysis::parse_language("klingon"), None);
    }

    #[test]
    fn english_analysis_stems_and_lowercases() {
        let mut a = Analysis::default().analyzer();
        let mut stream = a.token_stream("Running RUNS, runner's");
        let mut terms = Vec::new();
        while stream.advance() {
            terms.push(stream.token().text.clone());
        }
        assert_eq!(terms, vec!["run", "run", "runner", "s"]);
    }
}
