//! The faults the reference server can inject: each breaks exactly one documented behaviour, and
//! names the clauses a conformance run must then fail.

use std::fmt;
use std::str::FromStr;

macro_rules! faults {
    ($( $variant:ident = $name:literal, [$($clause:literal),+], $desc:literal; )+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Fault { $( $variant ),+ }

        impl Fault {
            pub const ALL: &'static [Fault] = &[ $( Fault::$variant ),+ ];

            pub fn name(self) -> &'static str {
                match self { $( Fault::$variant => $name ),+ }
            }

            /// The clauses of the spec this fault breaks.
            pub fn breaks(self) -> &'static [&'static str] {
                match self { $( Fault::$variant => &[$($clause),+] ),+ }
            }

            pub fn description(self) -> &'static str {
                match self { $( Fault::$variant => $desc ),+ }
            }
        }
    };
}

faults! {
    ApikeyPrefixOnly = "apikey-prefix-only", ["AUTH-KEY-UNKNOWN"],
        "any value with the API-key prefix is accepted as the first team's key";
    ApikeyRevokedAccepted = "apikey-revoked-accepted", ["AUTH-KEY-REVOKED"],
        "revoked keys keep working";
    JwtAlgNone = "jwt-alg-none", ["AUTH-TOKEN-ALG-NONE"],
        "tokens with alg none and no signature are accepted";
    JwtNoSignatureCheck = "jwt-no-signature-check", ["AUTH-TOKEN-BAD-SIGNATURE"],
        "token signatures are not verified (the algorithm still must be HS256)";
    JwtIgnoresExp = "jwt-ignores-exp", ["AUTH-TOKEN-EXPIRED"],
        "expired tokens are accepted";
    JwtSessionTtl = "jwt-session-ttl", ["AUTH-TOKEN-SESSION-TTL"],
        "session tokens are issued for 7 days instead of 24 hours";
    JwtRefreshTtl = "jwt-refresh-ttl", ["AUTH-TOKEN-REFRESH-TTL"],
        "refresh tokens are issued for 90 days instead of 30";
    JwtRefreshAsAccess = "jwt-refresh-as-access", ["AUTH-REFRESH-NOT-ACCESS"],
        "refresh tokens are accepted as access tokens";
    JwtAccessAsRefresh = "jwt-access-as-refresh", ["AUTH-ACCESS-NOT-REFRESH"],
        "session tokens are accepted by the refresh endpoint";
    RefreshReusable = "refresh-reusable", ["AUTH-REFRESH-SINGLE-USE", "AUTH-REFRESH-RACE"],
        "refresh tokens can be used any number of times";
    RefreshRace = "refresh-race", ["AUTH-REFRESH-RACE"],
        "refresh checks then consumes a token in two steps, so concurrent refreshes all succeed";
    AdminAcceptsApikey = "admin-accepts-apikey", ["AUTH-ADMIN-REFUSES-APIKEY"],
        "admin endpoints accept a valid API key";
    AdminAcceptsBearer = "admin-accepts-bearer", ["AUTH-ADMIN-REFUSES-BEARER"],
        "admin endpoints accept a valid access token";
    AdminPrefixMatch = "admin-prefix-match", ["AUTH-ADMIN-EXACT"],
        "a non-empty prefix of the admin token is accepted";
    AdminTimingLeak = "admin-timing-leak", ["AUTH-ADMIN-CONSTANT-TIME"],
        "the admin token is compared byte by byte with an early exit, each matching byte costing --leak-ns";
    ScopeCrossTeam = "scope-cross-team", ["AUTH-KEY-TEAM-SCOPE", "AUTH-TOKEN-USER-SCOPE"],
        "any credential can read any team's sandbox";
    UnauthAllowed = "unauth-allowed", ["AUTH-NO-CREDENTIALS"],
        "requests without credentials are served as the first team";
    EchoCredential = "echo-credential", ["AUTH-NO-ECHO"],
        "denials quote the credential that was presented";
    KeyListFull = "key-list-full", ["AUTH-KEY-SHOWN-ONCE"],
        "listing API keys returns the full keys";
    RlOffByOne = "rl-off-by-one", ["RL-GENERAL-LIMIT", "RL-CREATION-LIMIT", "RL-FILES-LIMIT"],
        "every category admits one request more than its limit";
    RlNoRetryAfter = "rl-no-retry-after", ["RL-429-RETRY-AFTER"],
        "429 responses carry no Retry-After header";
    RlRetryAfterMs = "rl-retry-after-ms", ["RL-429-RETRY-AFTER"],
        "Retry-After is given in milliseconds";
    RlRetryAfterShort = "rl-retry-after-short", ["RL-RETRY-AFTER-ADMITS"],
        "Retry-After says 1 second whatever the true wait";
    RlBodyNotJson = "rl-body-not-json", ["RL-429-BODY"],
        "429 bodies are plain text";
    RlStatus503 = "rl-status-503", ["RL-429-STATUS"],
        "over the limit the server answers 503 instead of 429";
    RlCreationUnlimited = "rl-creation-unlimited", ["RL-CREATION-LIMIT"],
        "sandbox creation has no limit of its own";
    RlFileOpsAsGeneral = "rl-file-ops-as-general", ["RL-FILES-LIMIT", "RL-CATEGORY-INDEPENDENT"],
        "file operations count against the general budget";
    RlSharedIdentity = "rl-shared-identity", ["RL-PER-IDENTITY"],
        "all identities share one budget per category";
    RlRace = "rl-race", ["RL-GENERAL-LIMIT", "RL-CREATION-LIMIT", "RL-FILES-LIMIT"],
        "the limiter reads and then writes its counters without a lock, so it over-admits under concurrency";
    RlRefillDouble = "rl-refill-double", ["RL-GENERAL-LIMIT", "RL-CREATION-LIMIT", "RL-FILES-LIMIT"],
        "the limiter refills twice as fast as its window says: `limit` per half window";
    DuplicateKeySplit = "duplicate-key-split", ["AUTH-AMBIGUOUS-CREDENTIALS"],
        "with two X-API-Key fields, the request is authenticated by the last valid one but rate-limited as the first";
    TokenLenientBase64 = "token-lenient-base64", ["AUTH-TOKEN-STRICT-ENCODING"],
        "token segments are decoded leniently: characters outside base64url, padding and extra segments are ignored";
    ApikeyAsBearer = "apikey-as-bearer", ["AUTH-CREDENTIAL-PLACEMENT"],
        "an API key sent as `Authorization: Bearer <key>` is accepted as if it were in X-API-Key";
    JwtEmptyKey = "jwt-empty-key", ["AUTH-TOKEN-BAD-SIGNATURE", "AUTH-REFRESH-FORGED"],
        "HS256 tokens signed with the empty key are accepted besides the real secret (a key list holding an unset variable)";
    JwtKidFile = "jwt-kid-file", ["AUTH-TOKEN-BAD-SIGNATURE", "AUTH-REFRESH-FORGED"],
        "a token's kid names its key file: /dev/null, a blank kid and a missing file yield the empty key";
    JwtKidSql = "jwt-kid-sql", ["AUTH-TOKEN-BAD-SIGNATURE", "AUTH-REFRESH-FORGED"],
        "a token's kid is looked up by SQL built from strings: `x' UNION SELECT 'k' --` yields the key k";
    JwtJkuFetch = "jwt-jku-fetch", ["AUTH-TOKEN-NO-KEY-FETCH"],
        "the URL in a token's jku or x5u header (loopback only) is fetched before the token is judged";
    JwtExpOptional = "jwt-exp-optional", ["AUTH-TOKEN-SESSION-TTL"],
        "exp is checked only when present: a correctly signed token without exp is accepted";
    JwtClaimsLenient = "jwt-claims-lenient", ["AUTH-TOKEN-CLAIM-TYPES"],
        "time claims that are numeric strings are read as numbers";
    JwtDuplicateLastWins = "jwt-duplicate-last-wins", ["AUTH-TOKEN-DUPLICATE-KEYS"],
        "a JSON member repeated in a token's header or payload is read last-wins instead of refused";
    JwtIgnoresCrit = "jwt-ignores-crit", ["AUTH-TOKEN-CRIT"],
        "the crit header is ignored";
    JwtWeakSecret = "jwt-weak-secret", ["AUTH-TOKEN-SECRET-STRENGTH"],
        "tokens are signed with the secret `secret`";
    RefreshNoSignatureCheck = "refresh-no-signature-check", ["AUTH-REFRESH-FORGED"],
        "the refresh endpoint reads refresh tokens without verifying their signature";
    RefreshIgnoresExp = "refresh-ignores-exp", ["AUTH-REFRESH-EXPIRED"],
        "the refresh endpoint accepts expired refresh tokens";
    RefreshIgnoresType = "refresh-ignores-type", ["AUTH-REFRESH-TYPE-CLAIM"],
        "the refresh endpoint takes any token of a live refresh family, whatever its type claim says";
    RefreshReuseByText = "refresh-reuse-by-text", ["AUTH-REFRESH-SINGLE-USE"],
        "used refresh tokens are remembered by their text and decoded leniently: another spelling of a used token passes for a new one";
    FailuresUnthrottled = "failures-unthrottled", ["AUTH-FAILURES-THROTTLED"],
        "requests with an unknown API key are not charged to any budget";
    MalformedToken500 = "malformed-token-500", ["AUTH-MALFORMED-NO-5XX"],
        "a bearer token of more than three segments makes the server fail with 500";
    TokenInQuery = "token-in-query", ["AUTH-CREDENTIAL-PLACEMENT"],
        "an access token in the query string (access_token=) is accepted";
    EchoBareJwt = "echo-bare-jwt", ["AUTH-NO-ECHO"],
        "token denials quote the presented token's JWT without its prefix, JSON-escaped";
    BearerRefused = "bearer-refused", ["AUTH-TOKEN-BEARER"],
        "every bearer token is refused, valid ones too";
    ScopeFiles = "scope-files", ["AUTH-KEY-TEAM-SCOPE", "AUTH-TOKEN-USER-SCOPE"],
        "file uploads and downloads reach any team's sandbox";
    ScopeListing = "scope-listing", ["AUTH-KEY-TEAM-SCOPE", "AUTH-TOKEN-USER-SCOPE"],
        "the sandbox listing holds every team's sandboxes";
    ScopeRevoke = "scope-revoke", ["AUTH-KEY-TEAM-SCOPE", "AUTH-TOKEN-USER-SCOPE"],
        "revoking a key reaches any team's key, answered 404 as if it had not";
    RlPerRoute = "rl-per-route", ["RL-GENERAL-LIMIT", "RL-FILES-LIMIT"],
        "each route has a budget of its own instead of one per category (uploads and downloads are counted apart)";
    Rl429Html = "rl-429-html", ["RL-429-BODY"],
        "the 429 body is the documented JSON served as text/html";
    RlKeyForwardedFor = "rl-key-forwarded-for", ["RL-NO-BYPASS"],
        "a request with X-Forwarded-For is charged to the address it names, not to its identity";
    RlKeyPath = "rl-key-path", ["RL-NO-BYPASS", "RL-GENERAL-LIMIT"],
        "budgets are keyed on the identity and the exact path and query string (so the general routes, of different paths, do not share one budget either)";
    RlUncountedFailures = "rl-uncounted-failures", ["RL-NO-BYPASS"],
        "authenticated requests answered with a client error (an unknown id, a bad body) are not charged";
    RlTokenUnlimited = "rl-token-unlimited", ["RL-GENERAL-LIMIT", "RL-CREATION-LIMIT", "RL-FILES-LIMIT"],
        "requests with an access token are not charged to any budget (only API keys are limited)";
    RlAdminUnlimited = "rl-admin-unlimited", ["RL-GENERAL-LIMIT"],
        "requests with the admin token are not charged to any budget";
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown fault `{s}`{}; valid faults: {}",
                    crate::error::did_you_mean(s, names.iter().copied()),
                    names.join(", ")
                )
            })
    }
}

/// The set of faults a server runs with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults(u64);

impl Faults {
    pub fn new(list: &[Fault]) -> Self {
        Faults(list.iter().fold(0, |acc, f| acc | (1 << (*f as u32))))
    }

    pub fn has(self, f: Fault) -> bool {
        self.0 & (1 << (f as u32)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_breaks_clauses_of_the_builtin_spec() {
        let spec = crate::spec::Spec::builtin();
        for f in Fault::ALL {
            for id in f.breaks() {
                assert!(spec.clause(id).is_some(), "{f} breaks unknown clause {id}");
            }
            assert_eq!(f.name().parse::<Fault>().unwrap(), *f);
        }
    }

    #[test]
    fn unknown_fault_lists_valid_ones() {
        let e = "rl-of-by-one".parse::<Fault>().unwrap_err();
        assert!(e.contains("did you mean `rl-off-by-one`"), "{e}");
        assert!(e.contains("jwt-alg-none"));
    }
}
