//! The property families a scenario may name (`property: {check: NAME}`) and the clauses each
//! can decide. Scenario validation owns this list; the families themselves run in
//! `check::property`, one module each.

/// The property families, by the name a scenario gives.
pub const NAMES: &[&str] = &[
    "api_keys",
    "access_tokens",
    "refresh",
    "admin_token",
    "rate_limits",
    "ambiguous_credentials",
];

/// The clauses a family decides; `None` for an unknown family.
pub fn decides(check: &str) -> Option<&'static [&'static str]> {
    Some(match check {
        "api_keys" => &[
            "AUTH-KEY-ALTERED",
            "AUTH-KEY-MALFORMED",
            "AUTH-KEY-UNKNOWN",
            "AUTH-KEY-REVOKED",
            "AUTH-CREDENTIAL-PLACEMENT",
        ],
        "access_tokens" => &[
            "AUTH-TOKEN-ALG-NONE",
            "AUTH-TOKEN-ALG-OTHER",
            "AUTH-TOKEN-BAD-SIGNATURE",
            "AUTH-TOKEN-PREFIX",
            "AUTH-TOKEN-EXPIRED",
            "AUTH-TOKEN-NOT-YET-VALID",
            "AUTH-REFRESH-NOT-ACCESS",
            "AUTH-ACCESS-NOT-REFRESH",
            "AUTH-TOKEN-STRICT-ENCODING",
            "AUTH-CREDENTIAL-PLACEMENT",
        ],
        "refresh" => &["AUTH-REFRESH-RACE", "AUTH-REFRESH-SINGLE-USE"],
        "admin_token" => &[
            "AUTH-ADMIN-EXACT",
            "AUTH-ADMIN-REFUSES-APIKEY",
            "AUTH-ADMIN-REFUSES-BEARER",
        ],
        "rate_limits" => &["RL-GENERAL-LIMIT", "RL-CREATION-LIMIT", "RL-FILES-LIMIT"],
        "ambiguous_credentials" => &["AUTH-AMBIGUOUS-CREDENTIALS"],
        _ => return None,
    })
}
