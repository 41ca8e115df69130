//! Template syntax in scenario values (`{{name}}`, `{{name|filter|filter:arg}}`): the filters
//! that exist and the check a scenario's values pass when it loads. Expanding them against a
//! target is `check::template`'s.

/// Every filter with its one-line meaning (`list scenarios --filters` could print these).
pub const FILTERS: &[(&str, &str)] = &[
    ("drop_last", "remove the last character"),
    ("take", "keep the first N characters"),
    ("append", "append the argument (default `x`)"),
    ("prepend", "prepend the argument"),
    (
        "change_last",
        "replace the last character with another of its kind",
    ),
    (
        "change_first",
        "replace the first character after the prefix with another of its kind",
    ),
    ("swapcase", "swap the case of every letter"),
    ("upper", "upper-case"),
    ("strip_prefix", "remove the API-key or access-token prefix"),
    ("surround", "surround with the argument (default a space)"),
    ("repeat", "repeat the value N times"),
    (
        "random_like",
        "a random value with the same prefix, length and alphabet",
    ),
    (
        "jwt_alg_none",
        "re-encode the token with alg `none` (argument: the spelling) and no signature",
    ),
    (
        "jwt_alg",
        "re-sign the token's claims under another algorithm (HS384, HS512; RS256 gets a garbage signature)",
    ),
    (
        "jwt_sig_strip",
        "drop the signature, keeping the trailing dot",
    ),
    ("jwt_sig_flip", "alter one character of the signature"),
    ("jwt_payload_tamper", "change a claim without re-signing"),
    (
        "jwt_other_secret",
        "re-sign with HS256 under a random secret",
    ),
    (
        "jwt_header",
        "add a header field `name=value` without re-signing",
    ),
    (
        "jwt_shift",
        "shift iat and exp by a duration (e.g. -25h) and re-sign with the deployment's secret",
    ),
    (
        "jwt_exp_in",
        "set exp to now plus a duration (e.g. -2m, +30s) and re-sign with the deployment's secret",
    ),
    (
        "jwt_without",
        "remove a claim (e.g. exp) and re-sign with the deployment's secret",
    ),
    (
        "jwt_nbf_in",
        "set nbf to now plus a duration and re-sign with the deployment's secret",
    ),
    (
        "jwt_iat_in",
        "set iat to now plus a duration and re-sign with the deployment's secret",
    ),
];

/// Every `{{...}}` expression in `text`, without braces.
pub fn expressions(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push(rest[start + 2..start + 2 + len].trim());
        rest = &rest[start + 2 + len + 2..];
    }
    out
}

/// Checks filter names and arguments without expanding: for loading a scenario.
pub fn check(text: &str) -> Result<(), String> {
    for expr in expressions(text) {
        let mut parts = expr.split('|');
        let name = parts.next().unwrap_or("").trim();
        if name.is_empty() {
            return Err(format!("`{{{{{expr}}}}}` names no variable"));
        }
        for f in parts {
            let fname = f.split(':').next().unwrap_or("").trim();
            if !FILTERS.iter().any(|(n, _)| *n == fname) {
                return Err(format!(
                    "unknown filter `{fname}`{}",
                    crate::error::did_you_mean(fname, FILTERS.iter().map(|(n, _)| *n))
                ));
            }
        }
    }
    Ok(())
}
