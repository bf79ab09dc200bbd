//! Sentences and prose in a document's text, for pseudo-queries: where sentences end, which
//! read as prose (not code or markup), and the section labels structured abstracts glue to
//! their front.

/// The byte ranges of the sentences of `text`: a sentence ends at `.`, `?` or `!` followed by
/// white space and an upper-case letter, a digit or a quote, or a lower-case letter when the
/// word before is no abbreviation (so `e.g. this` does not end one, and all-lower-case text
/// still splits), or at a blank line. Single line breaks are inside a sentence (wrapped
/// text).
pub fn sentences(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        let boundary = match c {
            '.' | '?' | '!' => {
                let rest = &text[end..];
                let trimmed = rest.trim_start();
                rest.len() != trimmed.len()
                    && trimmed.chars().next().is_some_and(|n| {
                        n.is_uppercase()
                            || n.is_ascii_digit()
                            || n == '"'
                            || n == '\u{201c}'
                            // Lower-case text (MEDLINE) ends sentences too, but not after
                            // an abbreviation.
                            || (n.is_lowercase() && !abbreviation(&text[start..i]))
                    })
            }
            '\n' => text[end..]
                .trim_start_matches([' ', '\t', '\r'])
                .starts_with('\n'),
            _ => false,
        };
        if boundary || chars.peek().is_none() {
            let piece = &text[start..end];
            let lead = piece.len() - piece.trim_start().len();
            let trail = piece.len() - piece.trim_end().len();
            if !piece.trim().is_empty() {
                out.push(start + lead..end - trail);
            }
            start = end;
        }
    }
    out
}

/// True if the last word of `before` (the text up to a `.`) is an abbreviation: a single
/// letter, a word with an inner dot (`e.g`), or a common one (`et al`, `fig`, `vs` ...).
fn abbreviation(before: &str) -> bool {
    const COMMON: &[&str] = &[
        "al", "approx", "ca", "cf", "dr", "eq", "etc", "fig", "figs", "jr", "mr", "mrs", "ms",
        "no", "pp", "ref", "refs", "resp", "sr", "st", "vol", "vs",
    ];
    let word = before
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or("")
        .trim_start_matches(['(', '"', '\'']);
    let lower = word.to_lowercase();
    (word.chars().count() == 1 && word.chars().all(char::is_alphabetic))
        || word.contains('.')
        || COMMON.contains(&lower.as_str())
}

/// True if `text` reads as prose: `min..=max` words, at least 75% of them words of letters
/// (or numbers), hardly any code or markup characters, and at least half of its characters
/// letters. Code (`sum(); // Sum them`), tables and link lists fail.
pub fn is_prose(text: &str, min: usize, max: usize) -> bool {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    if !(min..=max).contains(&tokens.len()) {
        return false;
    }
    let wordy = tokens
        .iter()
        .filter(|t| {
            let t = t.trim_matches(|c: char| ",.;:!?()\"'\u{201c}\u{201d}".contains(c));
            !t.is_empty()
                && (t
                    .chars()
                    .all(|c| c.is_alphabetic() || c == '-' || c == '\'')
                    || t.chars().all(|c| c.is_numeric() || ".,%".contains(c)))
        })
        .count();
    if wordy * 4 < tokens.len() * 3 {
        return false;
    }
    let code = text
        .chars()
        .filter(|c| "{}[]<>=;`|\\_*#$@^~".contains(*c))
        .count();
    if code > 1 + tokens.len() / 10 || text.contains("://") || text.contains("()") {
        return false;
    }
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    letters * 2 >= text.chars().filter(|c| !c.is_whitespace()).count()
}

/// A sentence's end: `.`, `?` or `!` (a line of a list or a heading has none).
pub(crate) fn ends_sentence(text: &str) -> bool {
    text.trim_end().ends_with(['.', '?', '!'])
}

/// A sentence without the section label a structured abstract glues to its front
/// (`RESULTS Patients were ...`, `DESIGN, SETTING, AND PARTICIPANTS Double-blind ...`):
/// leading words in capitals of 3 letters or more (with their commas), when prose follows.
pub(crate) fn without_section_label(s: &str) -> &str {
    let mut rest = s;
    loop {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = rest[..word_end].trim_end_matches([',', ':']);
        let label = word.chars().count() >= 3 && word.chars().all(|c| c.is_uppercase() || c == '-')
            || (word == "AND" || word == "OF" || word == "&");
        let next = rest[word_end..].trim_start();
        if !label || next.is_empty() {
            return rest;
        }
        // Stop before an acronym that starts the sentence itself (`DNA is ...`).
        if !next.chars().next().is_some_and(char::is_uppercase) {
            return rest;
        }
        rest = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_at_ends_not_abbreviations() {
        let t = "Vitamin D helps. It is made in skin, e.g. by sunlight.\nWrapped line here? Yes!\n\nA list item\nwrapped on. New para.";
        let s: Vec<&str> = sentences(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(
            s,
            vec![
                "Vitamin D helps.",
                "It is made in skin, e.g. by sunlight.",
                "Wrapped line here?",
                "Yes!",
                "A list item\nwrapped on.",
                "New para."
            ]
        );
    }

    #[test]
    fn section_labels_are_cut() {
        assert_eq!(
            without_section_label("RESULTS Patients in the most deprived quartile."),
            "Patients in the most deprived quartile."
        );
        assert_eq!(
            without_section_label("DESIGN, SETTING, AND PARTICIPANTS Double-blind trial."),
            "Double-blind trial."
        );
        assert_eq!(
            without_section_label("DNA is a molecule."),
            "DNA is a molecule."
        );
        assert_eq!(without_section_label("The YAP gene."), "The YAP gene.");
    }

    #[test]
    fn lower_case_text_splits_too() {
        let t = "correlation of glucose levels . significant correlations were obtained, e.g. in rats . from the size of it we see.";
        let s: Vec<&str> = sentences(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(
            s,
            vec![
                "correlation of glucose levels .",
                "significant correlations were obtained, e.g. in rats .",
                "from the size of it we see."
            ]
        );
    }

    #[test]
    fn prose_filter_rejects_code_and_markup() {
        assert!(is_prose(
            "Vitamin D deficiency is associated with multiple sclerosis.",
            6,
            40
        ));
        assert!(is_prose(
            "Does vitamin D protect against multiple sclerosis?",
            6,
            40
        ));
        assert!(!is_prose(
            "let x = sum(); // Sum them println!(\"{x}\");",
            6,
            40
        ));
        assert!(!is_prose("| a | b | c | d | e | f |", 6, 40));
        assert!(!is_prose(
            "See https://example.org/a/b for the full list here.",
            6,
            40
        ));
        assert!(!is_prose("Too short.", 6, 40));
        assert!(is_prose("A heading without any final stop at all", 6, 40));
        assert!(!ends_sentence("A heading without any final stop at all"));
        assert!(ends_sentence("A sentence with its stop. "));
        assert!(is_prose("Cross-encoders for ranking", 3, 30));
    }
}
