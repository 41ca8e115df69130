//! Counted nouns for people: "1 clause", "2 clauses", "1 identity", "3 identities".

/// `n` and `noun`, in the plural unless `n` is 1. `noun` is the singular; a plural that is not
/// regular (`y` after a consonant to `ies`, else an `s`) is not needed here.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    format!("{n} {}", plural(n, noun))
}

/// The form of `noun` that goes with `n`.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        return noun.to_string();
    }
    // The last word of a phrase ("credential source") takes the ending.
    match noun.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{stem}ies"),
        _ => format!("{noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1u32, "clause"), "1 clause");
        assert_eq!(count(0u32, "clause"), "0 clauses");
        assert_eq!(count(2u32, "identity"), "2 identities");
        assert_eq!(count(1u32, "identity"), "1 identity");
        assert_eq!(count(3u32, "key"), "3 keys");
        assert_eq!(count(2u32, "credential source"), "2 credential sources");
    }
}
