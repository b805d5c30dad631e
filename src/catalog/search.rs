//! Free-text movie search as plain rules: text is normalised the same way when stored and
//! when searched (lower case, accents removed), every query term must occur, and results
//! are ranked title-prefix first, then word-prefix, then anywhere.

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

pub const MAX_QUERY_CHARS: usize = 100;
pub const MAX_TERMS: usize = 6;

/// Lower case without diacritics: "Amélie" → "amelie".
pub fn normalize(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The normalised terms of a query, or `None` when it has none or is too long.
pub fn terms(query: &str) -> Option<Vec<String>> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return None;
    }
    let normalized = normalize(query);
    let mut terms: Vec<String> = Vec::new();
    for term in normalized.split(|c: char| !c.is_alphanumeric()) {
        if !term.is_empty() && !terms.iter().any(|t| t == term) {
            terms.push(term.to_owned());
        }
    }
    (!terms.is_empty()).then(|| {
        terms.truncate(MAX_TERMS);
        terms
    })
}

/// Lower is better: 0 when a title starts with the whole query, 1 when every term starts a
/// word of one title, 2 otherwise.
pub fn rank(titles: &[&str], terms: &[String]) -> u8 {
    let phrase = terms.join(" ");
    let mut best = 2;
    for title in titles {
        let title = normalize(title);
        let words: Vec<&str> = title.split(|c: char| !c.is_alphanumeric()).collect();
        let joined = words
            .iter()
            .filter(|w| !w.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        if joined.starts_with(&phrase) {
            return 0;
        }
        if terms
            .iter()
            .all(|t| words.iter().any(|w| w.starts_with(t.as_str())))
        {
            best = 1;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_accents() {
        assert_eq!(normalize("Amélie À PARIS"), "amelie a paris");
        assert_eq!(
            normalize("दंगल"),
            "दगल"
                .nfd()
                .filter(|c| !is_combining_mark(*c))
                .collect::<String>()
        );
    }

    #[test]
    fn splits_terms_and_refuses_empty_or_long_queries() {
        assert_eq!(terms("  Dark, KNIGHT dark ").unwrap(), ["dark", "knight"]);
        assert!(terms("   ").is_none());
        assert!(terms("%%").is_none());
        assert!(terms(&"a".repeat(101)).is_none());
    }

    #[test]
    fn ranks_title_prefix_before_word_prefix_before_substring() {
        let q = terms("star").unwrap();
        assert_eq!(rank(&["Star Voyage"], &q), 0);
        assert_eq!(rank(&["The Star Voyage"], &q), 1);
        assert_eq!(rank(&["Lodestar"], &q), 2);
        // A localized title can give the better rank.
        assert_eq!(rank(&["Lodestar", "Star des Nordens"], &q), 0);
    }
}
