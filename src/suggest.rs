//! "Did you mean": the known name nearest to a mistyped one, for every
//! error that names something unknown (kinds, properties, fields, ids).

/// The candidate closest to `word`, when it is close enough to be a typo:
/// at most a third of the length in edits (at least 2), case ignored; or,
/// failing that, a candidate that starts with `word` or that `word` starts
/// with (4 characters or more in common: `depends` for `depends_on`).
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).max(2);
    let candidates: Vec<&str> = candidates.into_iter().filter(|c| *c != word).collect();
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
        .or_else(|| {
            candidates.iter().copied().find(|c| {
                let c = c.to_ascii_lowercase();
                let (short, long) = if c.len() < lower.len() {
                    (&c, &lower)
                } else {
                    (&lower, &c)
                };
                short.len() >= 4 && long.starts_with(short.as_str())
            })
        })
}

/// ` (did you mean 'x'?)` or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    suggest(word, candidates)
        .map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default()
}
