//! Guessable HS256 secrets (AUTH-TOKEN-SECRET-STRENGTH, `should`), judged offline: an issued
//! token is verified against a short list of secrets that defaults, tutorials and unset variables
//! leave in deployments, and against the other credentials the profile gives; a given staging
//! secret must be at least 256 bits (RFC 7518 3.2). No request is sent.
//!
//! The list is this project's own, written from the defaults of common frameworks and the
//! examples of their documentation; no third-party wordlist is copied. A finding names an entry
//! by its number in the list and a credential by its role, never the secret itself.

use crate::check::jwt::Jwt;

/// Common HMAC secrets. Entry numbers are 1-based in findings.
pub const COMMON: &[&str] = &[
    "",
    "secret",
    "Secret",
    "SECRET",
    "secretkey",
    "secret-key",
    "secret_key",
    "secret123",
    "s3cr3t",
    "password",
    "Password",
    "passw0rd",
    "changeme",
    "change-me",
    "changeit",
    "default",
    "key",
    "private",
    "privatekey",
    "jwt",
    "jwtsecret",
    "jwt-secret",
    "jwt_secret",
    "JWT_SECRET",
    "your-256-bit-secret",
    "your-secret-key",
    "your_jwt_secret",
    "my-secret",
    "mysecret",
    "mysecretkey",
    "supersecret",
    "super-secret",
    "topsecret",
    "shhhhh",
    "keyboard cat",
    "token",
    "hmac",
    "HS256",
    "test",
    "testing",
    "dev",
    "development",
    "production",
    "admin",
    "123456",
    "12345678",
    "1234567890",
    "qwerty",
    "null",
    "undefined",
    "none",
    "lelantos",
    "lelantos-secret",
    "lelantos_secret",
    "sk_lel_",
];

/// The smallest HS256 key RFC 7518 3.2 allows, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Why the secret behind `jwt` (a token without its prefix) is guessable, or None. `others` are
/// (role, value) pairs of the profile's other credentials; `given` the staging secret.
pub fn weakness(jwt: &str, others: &[(&str, &str)], given: Option<&str>) -> Option<String> {
    if let Some(i) = COMMON.iter().position(|s| Jwt::verifies(jwt, s.as_bytes())) {
        let len = COMMON[i].len();
        return Some(format!(
            "the issued token verifies under entry {} of the harness's list of common secrets ({len} characters)",
            i + 1
        ));
    }
    if let Some((role, _)) = others
        .iter()
        .find(|(_, v)| !v.is_empty() && Jwt::verifies(jwt, v.as_bytes()))
    {
        return Some(format!(
            "the issued token verifies under the profile's {role}: one secret serves two purposes"
        ));
    }
    match given {
        Some(s) if s.len() < MIN_SECRET_BYTES => Some(format!(
            "the staging secret is {} bytes; RFC 7518 3.2 asks for at least {MIN_SECRET_BYTES} (256 bits) for HS256",
            s.len()
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(key: &str) -> String {
        let mut j = Jwt {
            header: Default::default(),
            claims: Default::default(),
            signature: String::new(),
        };
        j.claims.insert("sub".into(), "u".into());
        j.sign("HS256", key.as_bytes()).unwrap()
    }

    #[test]
    fn weak_secrets_are_named_by_entry_and_role_only() {
        let w = weakness(&signed("secret"), &[], Some("secret")).unwrap();
        assert!(w.contains("entry 2") && !w.contains("\"secret\""), "{w}");
        let admin = "adm_0123456789abcdef0123456789abcdef";
        let w = weakness(&signed(admin), &[("admin token", admin)], None).unwrap();
        assert!(w.contains("admin token") && !w.contains(admin), "{w}");
        let short = "0123456789abcdef";
        assert!(
            weakness(&signed(short), &[], Some(short))
                .unwrap()
                .contains("16 bytes")
        );
        let strong = "f3a9c1d27e8b4605a1c9d3e7f2b8a4c6e1d5f9a3b7c2e6d0";
        assert_eq!(weakness(&signed(strong), &[], Some(strong)), None);
    }
}
