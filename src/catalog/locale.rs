//! Choosing a localized title: `Accept-Language` is parsed into an ordered list of tags and
//! a movie's localizations are matched by RFC 4647 "lookup" (the tag itself, then its
//! shorter prefixes), falling back to the movie's own title.

/// Lower-cased language tags in the client's order of preference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LocalePreferences(Vec<String>);

/// At most this many preferences are kept; more never changes the outcome in practice and
/// it bounds the cache-key space.
const MAX_PREFERENCES: usize = 6;

impl LocalePreferences {
    /// Parses `Accept-Language`, e.g. `hi-IN,hi;q=0.9,en;q=0.5`. Malformed entries and
    /// `q=0` are dropped; `*` means "anything", which the fallback already gives.
    pub fn parse(header: &str) -> Self {
        let mut weighted: Vec<(u16, usize, String)> = Vec::new();
        for (position, part) in header.split(',').enumerate().take(32) {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim();
            if tag.is_empty() || tag == "*" || !is_language_tag(tag) {
                continue;
            }
            let mut quality = 1000u16;
            for param in pieces {
                if let Some(q) = param.trim().strip_prefix("q=") {
                    quality = parse_quality(q).unwrap_or(0);
                }
            }
            if quality == 0 {
                continue;
            }
            weighted.push((quality, position, tag.to_ascii_lowercase()));
        }
        // Highest quality first; equal qualities keep header order.
        weighted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut tags: Vec<String> = Vec::new();
        for (_, _, tag) in weighted {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
            if tags.len() == MAX_PREFERENCES {
                break;
            }
        }
        LocalePreferences(tags)
    }

    pub fn tags(&self) -> &[String] {
        &self.0
    }

    /// Every tag worth fetching from storage: each preference and its prefixes.
    pub fn candidates(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for tag in &self.0 {
            for candidate in lookup_chain(tag) {
                if !out.iter().any(|c| c == candidate) {
                    out.push(candidate.to_owned());
                }
            }
        }
        out
    }

    /// The best of `available` locales for these preferences, by RFC 4647 lookup.
    pub fn choose<'a>(
        &self,
        available: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Option<&'a str> {
        for tag in &self.0 {
            for candidate in lookup_chain(tag) {
                if let Some(found) = available.clone().into_iter().find(|a| *a == candidate) {
                    return Some(found);
                }
            }
        }
        None
    }

    /// A stable text form for cache keys.
    pub fn cache_key(&self) -> String {
        self.0.join(",")
    }
}

/// `zh-hant-tw` → `zh-hant-tw`, `zh-hant`, `zh`.
fn lookup_chain(tag: &str) -> impl Iterator<Item = &str> {
    let mut end = Some(tag.len());
    std::iter::from_fn(move || {
        let current = end?;
        let candidate = &tag[..current];
        end = candidate.rfind('-').map(|i| {
            // Skip a single-letter subtag left dangling (`x` in `de-x-foo`).
            let shorter = &candidate[..i];
            match shorter.rfind('-') {
                Some(j) if i - j == 2 => j,
                _ => i,
            }
        });
        Some(candidate)
    })
}

fn is_language_tag(tag: &str) -> bool {
    tag.len() <= 35
        && tag.split('-').all(|sub| {
            (1..=8).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        && tag.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
}

/// `q` values: 0 to 1 with up to three decimals, as thousandths.
fn parse_quality(text: &str) -> Option<u16> {
    let value: f32 = text.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * 1000.0).round() as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_quality_then_position() {
        let prefs = LocalePreferences::parse("en;q=0.5, hi-IN, de;q=0.8, fr;q=0");
        assert_eq!(prefs.tags(), ["hi-in", "de", "en"]);
    }

    #[test]
    fn drops_malformed_entries() {
        let prefs = LocalePreferences::parse("*, ;q=1, 12-ab, <script>, ta");
        assert_eq!(prefs.tags(), ["ta"]);
        assert!(LocalePreferences::parse("").tags().is_empty());
    }

    #[test]
    fn lookup_falls_back_to_prefix_then_next_preference() {
        let prefs = LocalePreferences::parse("hi-IN, de");
        assert_eq!(prefs.choose(["de", "hi"]), Some("hi"));
        assert_eq!(prefs.choose(["de", "ta"]), Some("de"));
        assert_eq!(prefs.choose(["ta"]), None);
        assert_eq!(prefs.candidates(), ["hi-in", "hi", "de"]);
    }

    #[test]
    fn lookup_chain_drops_singletons() {
        let chain: Vec<_> = lookup_chain("de-x-private").collect();
        assert_eq!(chain, ["de-x-private", "de"]);
        let chain: Vec<_> = lookup_chain("zh-hant-tw").collect();
        assert_eq!(chain, ["zh-hant-tw", "zh-hant", "zh"]);
    }
}
