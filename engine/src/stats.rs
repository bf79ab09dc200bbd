//! Term statistics of an index, and the BM25 score a text *would* get: what label-free
//! training needs to pick salient terms of a document and to score a document with a
//! sentence taken out of it as if it had been indexed that way.

use std::collections::HashMap;

use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::Bm25Weight;
use tantivy::Term;

use crate::error::Result;
use crate::index::{Engine, Score};

impl Engine {
    /// The terms of `text` as this index analyses it (lower-cased, stemmed ...), in order,
    /// repeats included: what a query or a document of that text is made of.
    pub fn analyze(&self, text: &str) -> Result<Vec<String>> {
        let mut analyzer = self.index.tokenizer_for_field(self.fields.all)?;
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        Ok(out)
    }

    /// How many documents of the index hold the analysed term `term` (as BM25 counts them:
    /// deleted documents not yet merged away included).
    pub fn doc_freq(&self, term: &str) -> Result<u64> {
        let searcher = self.reader.searcher();
        Ok(searcher.doc_freq(&Term::from_field_text(self.fields.all, term))?)
    }

    /// The number of documents BM25's statistics count (see [`Engine::doc_freq`]).
    pub fn stats_doc_count(&self) -> u64 {
        let searcher = self.reader.searcher();
        searcher
            .segment_readers()
            .iter()
            .map(|s| u64::from(s.max_doc()))
            .sum()
    }

    /// The BM25 score that a document with this title and body would get for `query` in a
    /// lenient search of this index, computed from the index's own statistics (document
    /// frequencies, average length) and tantivy's length quantization, so that for a
    /// document that is in the index it equals that document's [`crate::Hit::score`]. The
    /// text itself does not change the statistics (a document that was indexed with more
    /// text keeps its document frequencies).
    pub fn score_text(&self, query: &str, title: &str, body: &str) -> Result<Score> {
        let query_terms = self.term_counts(query)?;
        if query_terms.is_empty() {
            return Ok(0.0);
        }
        let doc_terms = self.analyze(&crate::index::all_text(title, body))?;
        let mut tf: HashMap<&str, u32> = HashMap::new();
        for t in &doc_terms {
            *tf.entry(t.as_str()).or_default() += 1;
        }
        let fieldnorm_id = FieldNormReader::fieldnorm_to_id(doc_terms.len() as u32);
        let searcher = self.reader.searcher();
        let mut score = 0.0;
        for (t, count) in &query_terms {
            let Some(&freq) = tf.get(t.as_str()) else {
                continue;
            };
            let term = Term::from_field_text(self.fields.all, t);
            let weight = Bm25Weight::for_terms(&searcher, &[term])?;
            // As the lenient query does: a repeated term is one clause boosted by its count.
            score += weight.boost_by(*count as f32).score(fieldnorm_id, freq);
        }
        Ok(score)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Analysis, Engine, IndexOptions};
    use index_data::Document;

    fn doc(id: &str, title: &str, body: &str) -> index_data::Result<Document> {
        Ok(Document {
            id: id.into(),
            title: title.into(),
            body: body.into(),
        })
    }

    #[test]
    fn score_text_equals_the_search_score_of_indexed_documents() {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::create(dir.path(), Analysis::default()).unwrap();
        let long = "word ".repeat(300) + "berlin population";
        let docs = vec![
            doc("a", "Berlin", "Berlin has 3.7 million people living in it."),
            doc("b", "Paris", "The capital of France, with many people."),
            doc("c", "", &long),
            doc(
                "d",
                "Cities",
                "People move to cities; cities grow. Berlin grows.",
            ),
        ];
        e.index_documents(docs, &IndexOptions::default(), &mut |_| {})
            .unwrap();
        for q in ["people in berlin", "berlin berlin cities", "population"] {
            let hits = e.search(q, 10).unwrap();
            assert!(!hits.is_empty());
            for h in hits {
                let s = e.score_text(q, &h.title, &h.text).unwrap();
                assert!(
                    (s - h.score).abs() < 1e-4,
                    "{q} {}: {s} vs {}",
                    h.id,
                    h.score
                );
            }
        }
        // Taking words out lowers the score; a text without query terms scores 0.
        let full = e
            .score_text("berlin people", "Berlin", "Berlin has people.")
            .unwrap();
        let cut = e.score_text("berlin people", "Berlin", "It has.").unwrap();
        assert!(cut < full && cut > 0.0);
        assert_eq!(e.score_text("berlin", "", "nothing here").unwrap(), 0.0);
        assert_eq!(e.analyze("Running Cities").unwrap(), vec!["run", "citi"]);
        assert_eq!(e.doc_freq("citi").unwrap(), 1);
        assert_eq!(e.doc_freq("peopl").unwrap(), 3);
        assert_eq!(e.stats_doc_count(), 4);
    }
}
