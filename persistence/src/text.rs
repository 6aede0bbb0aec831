//! Case-insensitive text search that behaves the same on both backends.

diesel::define_sql_function! {
    /// SQL `lower()`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A `LIKE` pattern matching any text that contains `needle`, lower-cased,
/// with `%`, `_` and `\` escaped (use with `.escape('\\')`).
pub fn contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for ch in needle.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// A `LIKE` pattern matching text that starts with `prefix` (escaped).
pub fn prefix_pattern(prefix: &str) -> String {
    let mut p: String = prefix
        .chars()
        .flat_map(|ch| {
            let escape = matches!(ch, '%' | '_' | '\\').then_some('\\');
            escape.into_iter().chain(std::iter::once(ch))
        })
        .collect();
    p.push('%');
    p
}
