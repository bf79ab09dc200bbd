//! Markdown to plain text, so that what is indexed, shown and trained on is the prose a
//! reader sees, not its markup.

/// The text of a Markdown document as a reader sees it:
/// - HTML comments and tags are removed (`<a id="x"></a>`, `<br>`), their text kept;
/// - headings, block quotes and list items lose their markers (`#`, `>`, `-`, `1.`);
/// - links and images become their text (`[text](url)` → `text`, `![alt](src)` → `alt`), and
///   reference definitions (`[id]: url`) are dropped;
/// - emphasis and inline-code markers are removed, their text kept;
/// - fenced code blocks keep their content, without the fences, as a paragraph of their own
///   (blank lines around it), so that code is still searchable but never joins a sentence;
/// - table rows lose their pipes, and separator rows (`|---|`) are dropped.
///
/// Line structure is kept (one output line per input line, but for dropped reference
/// definitions and table separators; runs of blank lines become one), so that paragraph and
/// sentence boundaries survive.
pub fn markdown_to_text(md: &str) -> String {
    let md = strip_html_comments(md);
    let mut out = String::with_capacity(md.len());
    let mut fence: Option<&str> = None;
    for line in md.lines() {
        let trimmed = line.trim_start();
        if let Some(f) = fence {
            if trimmed.starts_with(f) && trimmed.trim_start_matches(f).trim().is_empty() {
                fence = None;
                out.push_str("\n\n");
            } else {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        if let Some(f) = ["```", "~~~"].into_iter().find(|f| trimmed.starts_with(f)) {
            fence = Some(f);
            out.push_str("\n\n");
            continue;
        }
        if is_reference_definition(trimmed) || is_table_separator(trimmed) {
            continue;
        }
        out.push_str(&inline(block_marker(trimmed)));
        out.push('\n');
    }
    // Collapse the runs of blank lines the fences left.
    let mut text = String::with_capacity(out.len());
    let mut blank = 0;
    for line in out.lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text.trim().to_owned()
}

fn strip_html_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => {
                // Keep the comment's line breaks, so line structure survives.
                let comment = &rest[start..start + end + 3];
                out.extend(std::iter::repeat_n('\n', comment.matches('\n').count()));
                rest = &rest[start + end + 3..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_reference_definition(line: &str) -> bool {
    line.starts_with('[')
        && line
            .find("]:")
            .is_some_and(|i| !line[1..i].contains(']') && i > 1)
}

fn is_table_separator(line: &str) -> bool {
    line.contains('-') && line.contains('|') && line.chars().all(|c| "|-: \t".contains(c))
}

/// The line without its block marker: `#`s of a heading, `>` of a quote, `-`/`*`/`+`/`1.`
/// of a list item, the pipes of a table row.
fn block_marker(line: &str) -> String {
    let mut line = line.trim_start();
    while let Some(rest) = line.strip_prefix('>') {
        line = rest.trim_start();
    }
    let hashes = line.chars().take_while(|&c| c == '#').count();
    if (1..=6).contains(&hashes) && line[hashes..].starts_with([' ', '\t']) {
        line = line[hashes..].trim_end_matches('#').trim();
    } else if let Some(rest) = ["- ", "* ", "+ "].iter().find_map(|m| line.strip_prefix(m)) {
        line = rest;
    } else {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && digits < 10 {
            if let Some(rest) = line[digits..]
                .strip_prefix(". ")
                .or_else(|| line[digits..].strip_prefix(") "))
            {
                line = rest;
            }
        }
    }
    if line.starts_with('|') {
        return line
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("  ");
    }
    line.to_owned()
}

/// Inline markup: links and images to their text, HTML tags removed, emphasis and code
/// markers removed.
fn inline(line: String) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '!' if chars.get(i + 1) == Some(&'[') => {
                i += 1;
            }
            '[' => {
                // `[text](url)` or `[text][ref]`: keep the text.
                if let Some(close) = find(&chars, i + 1, ']') {
                    let after = chars.get(close + 1);
                    let end = match after {
                        Some('(') => find(&chars, close + 2, ')'),
                        Some('[') => find(&chars, close + 2, ']'),
                        _ => None,
                    };
                    if let Some(end) = end {
                        out.push_str(&inline(chars[i + 1..close].iter().collect()));
                        i = end + 1;
                        continue;
                    }
                }
                out.push(c);
                i += 1;
            }
            '<' => {
                // An HTML tag or an autolink: drop the tag, keep an autolink's address.
                match find(&chars, i + 1, '>') {
                    Some(end) if is_tag(&chars[i + 1..end]) => {
                        i = end + 1;
                    }
                    Some(end) if chars[i + 1..end].iter().collect::<String>().contains("://") => {
                        out.extend(&chars[i + 1..end]);
                        i = end + 1;
                    }
                    _ => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            '`' => {
                i += 1;
            }
            '*' | '_' => {
                // Emphasis markers: at a word's edge (not inside snake_case or 2*3).
                let prev = i.checked_sub(1).map(|p| chars[p]);
                let next = chars.get(i + 1).copied();
                let inside = prev.is_some_and(char::is_alphanumeric)
                    && next.is_some_and(char::is_alphanumeric);
                if !inside {
                    i += 1;
                    continue;
                }
                out.push(c);
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn find(chars: &[char], from: usize, c: char) -> Option<usize> {
    chars
        .get(from..)?
        .iter()
        .position(|&x| x == c)
        .map(|p| p + from)
}

/// `a href="x"`, `/a`, `br/`: a tag name of letters, optionally closing, then attributes.
fn is_tag(inner: &[char]) -> bool {
    let s: String = inner.iter().collect();
    let s = s.trim_start_matches('/').trim_end_matches('/');
    let name: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s[name.len()..]
            .chars()
            .next()
            .is_none_or(|c| c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_removed_and_prose_kept() {
        let md = "<!-- a comment\nover two lines -->\n# Getting *Started*\n\n<a id=\"install\"></a>\nRead [the book](https://doc.rust-lang.org/book/) and `cargo new` it.\n![logo](img/logo.png)\n\n```rust\nfn main() { let x = sum(); // Sum them\n}\n```\nAfter the code.\n\n> A quote\n- item one\n1. first\n| a | b |\n|---|---|\n| 1 | 2 |\n[book]: https://example.org\nsnake_case and 2*3 stay.";
        let text = markdown_to_text(md);
        assert_eq!(
            text,
            "Getting Started\n\nRead the book and cargo new it.\nlogo\n\nfn main() { let x = sum(); // Sum them\n}\n\nAfter the code.\n\nA quote\nitem one\nfirst\na  b\n1  2\nsnake_case and 2*3 stay."
        );
    }

    #[test]
    fn unclosed_markup_is_left_alone() {
        assert_eq!(markdown_to_text("a < b and [x] y"), "a < b and [x] y");
        assert_eq!(markdown_to_text("```\ncode only"), "code only");
        assert_eq!(markdown_to_text("text <!-- open"), "text");
    }
}
