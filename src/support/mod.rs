//! Customer support for the platform's staff: finding a customer and their bookings
//! (`routes`). Every request here is an administrator's, so the audit log records who
//! looked at whom.

pub mod disputes;
pub mod routes;
pub mod timeline;

/// `text` as a LIKE pattern that matches it literally anywhere (`ESCAPE '\'`): the
/// client's `%`, `_` and `\` are text, not wildcards. Pure.
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_from_the_client_are_text() {
        assert_eq!(contains_pattern("Ana"), "%ana%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
