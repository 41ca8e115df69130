//! The property families a scenario may name (`property: {check: NAME}`) and the clauses each
//! can decide. Scenario validation owns this list; the families themselves run in
//! `check::property`, one module each.

/// A property family (`property: {check: NAME}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    ApiKeys,
    AccessTokens,
    Refresh,
    AdminToken,
    RateLimits,
    AmbiguousCredentials,
}

impl Family {
    pub const ALL: [Family; 6] = [
        Family::ApiKeys,
        Family::AccessTokens,
        Family::Refresh,
        Family::AdminToken,
        Family::RateLimits,
        Family::AmbiguousCredentials,
    ];

    /// The name a scenario gives.
    pub fn name(self) -> &'static str {
        match self {
            Family::ApiKeys => "api_keys",
            Family::AccessTokens => "access_tokens",
            Family::Refresh => "refresh",
            Family::AdminToken => "admin_token",
            Family::RateLimits => "rate_limits",
            Family::AmbiguousCredentials => "ambiguous_credentials",
        }
    }

    /// The clauses the family decides.
    pub fn decides(self) -> &'static [&'static str] {
        match self {
            Family::ApiKeys => &[
                "AUTH-KEY-ALTERED",
                "AUTH-KEY-MALFORMED",
                "AUTH-KEY-UNKNOWN",
                "AUTH-KEY-REVOKED",
                "AUTH-CREDENTIAL-PLACEMENT",
            ],
            // The refresh endpoint first: its requests are charged to the client address,
            // whose budget the refresh family (beside it in stage 3) spends quickly.
            Family::AccessTokens => &[
                "AUTH-ACCESS-NOT-REFRESH",
                "AUTH-TOKEN-ALG-NONE",
                "AUTH-TOKEN-ALG-OTHER",
                "AUTH-TOKEN-BAD-SIGNATURE",
                "AUTH-TOKEN-PREFIX",
                "AUTH-TOKEN-EXPIRED",
                "AUTH-TOKEN-NOT-YET-VALID",
                "AUTH-REFRESH-NOT-ACCESS",
                "AUTH-TOKEN-STRICT-ENCODING",
                "AUTH-CREDENTIAL-PLACEMENT",
                "AUTH-TOKEN-SESSION-TTL",
                "AUTH-TOKEN-CLAIM-TYPES",
                "AUTH-TOKEN-DUPLICATE-KEYS",
                "AUTH-TOKEN-CRIT",
                "AUTH-TOKEN-SECRET-STRENGTH",
                "AUTH-TOKEN-NO-KEY-FETCH",
                "AUTH-MALFORMED-NO-5XX",
            ],
            Family::Refresh => &[
                "AUTH-REFRESH-RACE",
                "AUTH-REFRESH-SINGLE-USE",
                "AUTH-REFRESH-FORGED",
                "AUTH-REFRESH-EXPIRED",
                "AUTH-REFRESH-TYPE-CLAIM",
            ],
            Family::AdminToken => &[
                "AUTH-ADMIN-EXACT",
                "AUTH-ADMIN-REFUSES-APIKEY",
                "AUTH-ADMIN-REFUSES-BEARER",
            ],
            Family::RateLimits => &["RL-GENERAL-LIMIT", "RL-CREATION-LIMIT", "RL-FILES-LIMIT"],
            Family::AmbiguousCredentials => &["AUTH-AMBIGUOUS-CREDENTIALS"],
        }
    }
}

impl<'de> serde::Deserialize<'de> for Family {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use crate::yaml::word;
        word::parse(d, "a property family", "refresh", |s| {
            let name = s.written();
            Family::ALL
                .into_iter()
                .find(|f| f.name() == name)
                .ok_or_else(|| {
                    format!(
                        "unknown property `{name}`{}",
                        crate::error::did_you_mean(&name, Family::ALL.iter().map(|f| f.name()))
                    )
                })
        })
    }
}
