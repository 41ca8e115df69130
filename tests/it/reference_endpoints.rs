//! The faultless reference server, endpoint by endpoint and credential by credential.

use std::collections::HashSet;

use crate::support::jwt::*;
use crate::support::server::*;
use serde_json::json;

#[tokio::test]
async fn api_key_reaches_every_team_endpoint_of_its_team() {
    let s = plain().await;
    let key = s.key();

    // Listing: only the team's sandboxes.
    let r = s.get("/sandboxes", key).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.json();
    let ids: Vec<&str> = list["sandboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert!(!ids.is_empty());
    assert!(!ids.contains(&s.c.other_team_sandbox.as_str()));
    let team = list["sandboxes"][0]["team"].as_str().unwrap().to_string();

    // Create, read, files.
    let r = s
        .post_json("/sandboxes", key, json!({"name": "mine"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.json();
    assert_eq!(created["name"], "mine");
    assert_eq!(created["team"], team.as_str());
    let id = created["id"].as_str().unwrap().to_string();
    let r = s.get(&format!("/sandboxes/{id}"), key).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], id.as_str());
    let listed = s.get("/sandboxes", key).await.json();
    assert!(
        listed["sandboxes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == id.as_str())
    );

    let r = s
        .send(
            "PUT",
            &format!("/sandboxes/{id}/files?path=a%2Fb.txt"),
            key,
            Some(b"hello".to_vec()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["size"], 5);
    let r = s
        .get(&format!("/sandboxes/{id}/files?path=a%2Fb.txt"), key)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "hello");
    let r = s
        .get(&format!("/sandboxes/{id}/files?path=missing"), key)
        .await;
    assert_eq!(r.status, 404);
    r.json();

    // Another team's sandbox is not found, for reads and writes.
    let other = &s.c.other_team_sandbox;
    assert_eq!(s.get(&format!("/sandboxes/{other}"), key).await.status, 404);
    assert_eq!(
        s.get(&format!("/sandboxes/{other}/files?path=x"), key)
            .await
            .status,
        404
    );
    let r = s
        .send(
            "PUT",
            &format!("/sandboxes/{other}/files?path=x"),
            key,
            Some(b"x".to_vec()),
        )
        .await;
    assert_eq!(r.status, 404);
    // ... and reachable by its own team.
    let r = s
        .get(
            &format!("/sandboxes/{other}"),
            Cred::Key(&s.c.api_key_other_team),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn api_keys_are_shown_once_and_can_be_revoked() {
    let s = plain().await;
    let key = s.key();
    let r = s.post_json("/api-keys", key, json!({"name": "ci"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    let new_key = v["key"].as_str().unwrap().to_string();
    let new_id = v["id"].as_str().unwrap().to_string();
    assert!(new_key.starts_with(s.key_prefix()));
    assert_eq!(new_key.len(), s.key_prefix().len() + 32);
    assert!(
        new_key[s.key_prefix().len()..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric())
    );
    assert_eq!(v["name"], "ci");
    assert!(v["created_at"].is_string());

    // The new key works.
    assert_eq!(s.get("/sandboxes", Cred::Key(&new_key)).await.status, 200);

    // Listing never shows a full key.
    let r = s.get("/api-keys", key).await;
    assert_eq!(r.status, 200);
    assert!(!r.body.contains(&new_key));
    assert!(!r.body.contains(&s.c.api_key));
    let keys = r.json()["api_keys"].as_array().unwrap().clone();
    let entry = keys.iter().find(|k| k["id"] == new_id.as_str()).unwrap();
    assert_eq!(entry["prefix"], s.key_prefix());
    assert_eq!(entry["last4"], &new_key[new_key.len() - 4..]);
    assert_eq!(entry["revoked"], false);
    assert!(entry.get("key").is_none());
    // The revoked fixture key is listed as revoked.
    assert!(keys.iter().any(|k| k["revoked"] == true));

    // Another team cannot revoke it; its team can.
    let other = Cred::Key(&s.c.api_key_other_team);
    let r = s
        .send("DELETE", &format!("/api-keys/{new_id}"), other, None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(s.get("/sandboxes", Cred::Key(&new_key)).await.status, 200);
    let r = s
        .send("DELETE", &format!("/api-keys/{new_id}"), key, None)
        .await;
    assert_eq!(r.status, 204);
    let r = s.get("/sandboxes", Cred::Key(&new_key)).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    let r = s.send("DELETE", "/api-keys/key_999999", key, None).await;
    assert_eq!(r.status, 404);
    let r = s.send("DELETE", "/api-keys/nonsense", key, None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn login_issues_prefixed_hs256_tokens_with_the_documented_lifetimes() {
    let s = plain().await;
    let (access, refresh) = s.login().await;
    for t in [&access, &refresh] {
        assert!(t.starts_with(s.prefix()));
        assert_eq!(jwt_part(t).split('.').count(), 3);
        assert_eq!(header_of(t)["alg"], "HS256");
        // The staging secret verifies the signature.
        let jwt = jwt_part(t);
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        assert_eq!(b64(&hmac("HS256", s.secret(), input.as_bytes())), sig);
    }
    let a = claims(&access);
    let r = claims(&refresh);
    let ttl = |c: &serde_json::Value| c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap();
    assert_eq!(ttl(&a), s.spec.auth.access_token.session_ttl.as_secs());
    assert_eq!(ttl(&r), s.spec.auth.access_token.refresh_ttl.as_secs());
    assert_eq!(a["typ"], "access");
    assert_eq!(r["typ"], "refresh");
    assert!(a["jti"].is_string() && a["sub"].is_string() && a["team"].is_string());

    // The access token reaches its team's resources only.
    let bearer = Cred::Bearer(&access);
    assert_eq!(s.get("/sandboxes", bearer).await.status, 200);
    let other = &s.c.other_team_sandbox;
    assert_eq!(
        s.get(&format!("/sandboxes/{other}"), bearer).await.status,
        404
    );
    let r = s.post_json("/sandboxes", bearer, json!({})).await;
    assert_eq!(r.status, 201);
    // Token types are not interchangeable.
    assert_eq!(
        s.get("/sandboxes", Cred::Bearer(&refresh)).await.status,
        401
    );
    assert_eq!(s.refresh(&access).await.status, 401);
    // The token without its prefix is refused.
    assert_eq!(
        s.get("/sandboxes", Cred::Bearer(jwt_part(&access)))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn wrong_login_is_refused_with_a_challenge() {
    let s = plain().await;
    let r = s
        .post_json(
            "/auth/login",
            Cred::None,
            json!({"email": s.c.email, "password": "wrong-password"}),
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    assert!(!r.visible().contains("wrong-password"));
    let r = s
        .post_json(
            "/auth/login",
            Cred::None,
            json!({"email": "nobody@example.test", "password": s.c.password}),
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(!r.visible().contains(&s.c.password));
}

#[tokio::test]
async fn refresh_rotates_and_detects_reuse() {
    let s = plain().await;
    let (_, r1) = s.login().await;
    let resp = s.refresh(&r1).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let v = resp.json();
    let a2 = v["access_token"].as_str().unwrap().to_string();
    let r2 = v["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    assert_eq!(v["token_type"], s.spec.auth.access_token.scheme.as_str());
    assert!(v["expires_in"].as_u64().unwrap() > 0);
    assert_eq!(s.get("/sandboxes", Cred::Bearer(&a2)).await.status, 200);
    // Single use: r1 again is refused, and that reuse ends the family: r2 is refused too.
    assert_eq!(s.refresh(&r1).await.status, 401);
    assert_eq!(s.refresh(&r2).await.status, 401);
    // A new login starts a new family that works.
    let (_, r3) = s.login().await;
    let resp = s.refresh(&r3).await;
    assert_eq!(resp.status, 200);
    let r4 = resp.json()["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(s.refresh(&r4).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_admit_exactly_one() {
    let s = std::sync::Arc::new(plain().await);
    for _ in 0..3 {
        let (_, token) = s.login().await;
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let s = s.clone();
                let token = token.clone();
                tokio::spawn(async move { s.refresh(&token).await.status })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            let status = t.await.unwrap();
            assert!(status == 200 || status == 401, "{status}");
            ok += usize::from(status == 200);
        }
        assert_eq!(ok, 1);
    }
}

#[tokio::test]
async fn admin_token_reaches_admin_endpoints_only_by_its_header() {
    let s = plain().await;
    let (access, _) = s.login().await;
    for path in ["/admin/users", "/admin/nodes"] {
        let r = s.get(path, s.admin()).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.json();
        for cred in [
            Cred::None,
            s.key(),
            Cred::Bearer(&access),
            Cred::Admin(&s.c.api_key),
        ] {
            let r = s.get(path, cred).await;
            assert_eq!(r.status, 401, "{path}");
            assert!(r.header("www-authenticate").is_some());
        }
        // Prefixes, extensions, one-byte changes and case changes.
        let t = &s.c.admin_token;
        let mut changed = t.clone().into_bytes();
        changed[5] = if changed[5] == b'a' { b'b' } else { b'a' };
        let variants = [
            t[..t.len() - 1].to_string(),
            t[..8].to_string(),
            format!("{t}x"),
            String::from_utf8(changed).unwrap(),
            t.to_uppercase(),
            t.to_lowercase(),
            String::new(),
        ];
        for v in variants.iter().filter(|v| *v != t) {
            let r = s.get(path, Cred::Admin(v)).await;
            assert_eq!(r.status, 401, "{path}");
            if !v.is_empty() {
                assert!(!r.visible().contains(v.as_str()));
            }
        }
    }
    assert_eq!(
        s.get("/admin/users", s.admin()).await.json()["users"][0]["email"],
        s.c.email.as_str()
    );
}

#[tokio::test]
async fn admin_token_on_team_endpoints_spans_teams() {
    let s = plain().await;
    let r = s.get("/sandboxes", s.admin()).await;
    assert_eq!(r.status, 200);
    let teams: HashSet<String> = r.json()["sandboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["team"].as_str().unwrap().to_string())
        .collect();
    assert!(teams.len() >= 2);
    assert!(r.body.contains(&s.c.other_team_sandbox));
    let other = &s.c.other_team_sandbox;
    assert_eq!(
        s.get(&format!("/sandboxes/{other}"), s.admin())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn every_endpoint_refuses_requests_without_credentials() {
    let s = plain().await;
    let other = s.c.other_team_sandbox.clone();
    let requests = [
        ("GET", "/sandboxes".to_string()),
        ("POST", "/sandboxes".to_string()),
        ("GET", format!("/sandboxes/{other}")),
        ("PUT", format!("/sandboxes/{other}/files?path=x")),
        ("GET", format!("/sandboxes/{other}/files?path=x")),
        ("GET", "/admin/users".to_string()),
        ("GET", "/admin/nodes".to_string()),
        ("POST", "/api-keys".to_string()),
        ("GET", "/api-keys".to_string()),
        ("DELETE", "/api-keys/key_0".to_string()),
    ];
    for (method, path) in &requests {
        let r = s.send(method, path, Cred::None, Some(b"{}".to_vec())).await;
        assert_eq!(r.status, 401, "{method} {path}");
        assert!(r.header("www-authenticate").is_some(), "{method} {path}");
        assert!(r.json()["error"].is_string());
    }
}

#[tokio::test]
async fn malformed_altered_unknown_and_revoked_keys_are_refused_without_echo() {
    let s = plain().await;
    let k = s.c.api_key.clone();
    let p = s.key_prefix().to_string();
    let mut changed = k.clone().into_bytes();
    let last = changed.len() - 1;
    changed[last] = if changed[last] == b'a' { b'b' } else { b'a' };
    let bad = [
        p.clone(),
        k[p.len()..].to_string(),
        format!("xyz_{}", &k[p.len()..]),
        k[..k.len() - 1].to_string(),
        format!("{k}a"),
        String::from_utf8(changed).unwrap(),
        format!("{p}{}", "A".repeat(32)),
        // Not here: the key with surrounding whitespace. RFC 9110 5.5 makes leading and trailing
        // whitespace no part of a field value; HTTP/1.1 parsers strip it, so no server sees it.
        s.c.api_key_revoked.clone(),
    ];
    for b in &bad {
        let r = s.get("/sandboxes", Cred::Key(b)).await;
        assert_eq!(r.status, 401, "{b:?}");
        assert!(r.header("www-authenticate").is_some());
        if b.len() > p.len() {
            assert!(!r.visible().contains(b.trim()), "echoed {b:?}");
        }
    }
    // An empty header value.
    let r = s
        .http
        .get(s.url("/sandboxes"))
        .header(s.spec.auth.api_key.header.as_str(), "")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn forged_and_altered_tokens_are_refused() {
    let s = plain().await;
    let (access, _) = s.login().await;
    let prefix = s.prefix().to_string();
    let c = claims(&access);
    let jwt = jwt_part(&access).to_string();
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let mut refused: Vec<(String, String)> = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let t = forge(&json!({"alg": alg, "typ": "JWT"}), &c, None);
        refused.push((format!("alg {alg}"), t.clone()));
        refused.push((format!("alg {alg} with signature"), format!("{t}{sig}")));
    }
    for alg in ["HS384", "HS512"] {
        let t = forge(&json!({"alg": alg, "typ": "JWT"}), &c, Some(s.secret()));
        refused.push((alg.to_string(), t));
    }
    refused.push((
        "RS256".into(),
        format!(
            "{}.{}.{}",
            b64(br#"{"alg":"RS256","typ":"JWT"}"#),
            input.split('.').nth(1).unwrap(),
            sig
        ),
    ));
    refused.push(("stripped signature".into(), format!("{input}.")));
    refused.push(("no signature part".into(), input.to_string()));
    let mut altered = sig.to_string().into_bytes();
    altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
    refused.push((
        "altered signature".into(),
        format!("{input}.{}", String::from_utf8(altered).unwrap()),
    ));
    refused.push((
        "other secret".into(),
        forge(
            &json!({"alg": "HS256", "typ": "JWT"}),
            &c,
            Some(b"not-the-secret"),
        ),
    ));
    let mut more = c.clone();
    more["sub"] = "usr_someone_else".into();
    let changed_payload = format!(
        "{}.{}.{sig}",
        input.split('.').next().unwrap(),
        b64(more.to_string().as_bytes())
    );
    refused.push(("payload changed".into(), changed_payload));
    let hs = json!({"alg": "HS256", "typ": "JWT"});
    refused.push((
        "expired".into(),
        forge(
            &hs,
            &access_claims(&access, now() - 7200, now() - 1),
            Some(s.secret()),
        ),
    ));
    refused.push((
        "issued in the future".into(),
        forge(
            &hs,
            &access_claims(&access, now() + 3600, now() + 7200),
            Some(s.secret()),
        ),
    ));
    let mut nbf = access_claims(&access, now(), now() + 7200);
    nbf["nbf"] = (now() + 3600).into();
    refused.push(("not before".into(), forge(&hs, &nbf, Some(s.secret()))));
    let mut no_exp = c.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    refused.push(("no exp".into(), forge(&hs, &no_exp, Some(s.secret()))));
    refused.push(("garbage".into(), "a.b.c".into()));
    for (what, t) in refused {
        let r = s
            .get("/sandboxes", Cred::Bearer(&format!("{prefix}{t}")))
            .await;
        assert_eq!(r.status, 401, "{what}");
        assert!(r.header("www-authenticate").is_some(), "{what}");
        assert!(!r.visible().contains(&t), "{what} echoed");
    }
    // Issued a little in the future (clock skew within 60 s): accepted.
    let mut skewed = access_claims(&access, now() + 30, now() + 7200);
    skewed["nbf"] = (now() + 30).into();
    let skewed = forge(&hs, &skewed, Some(s.secret()));
    assert_eq!(
        s.get("/sandboxes", Cred::Bearer(&format!("{prefix}{skewed}")))
            .await
            .status,
        200
    );
    // Correctly signed and about to expire: accepted.
    let soon = forge(
        &hs,
        &access_claims(&access, now() - 60, now() + 30),
        Some(s.secret()),
    );
    assert_eq!(
        s.get("/sandboxes", Cred::Bearer(&format!("{prefix}{soon}")))
            .await
            .status,
        200
    );
    // Other schemes are refused.
    let r = s
        .http
        .get(s.url("/sandboxes"))
        .header("authorization", format!("Basic {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn bad_input_gets_json_errors() {
    let s = plain().await;
    let key = s.key();
    // Malformed JSON and wrong shapes: 400.
    for body in [
        &b"{not json"[..],
        b"[]",
        b"{\"email\": 1, \"password\": 2}",
        b"",
    ] {
        let r = s
            .send("POST", "/auth/login", Cred::None, Some(body.to_vec()))
            .await;
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(body));
        assert!(r.json()["error"].is_string());
    }
    let r = s
        .send("POST", "/auth/refresh", Cred::None, Some(b"{".to_vec()))
        .await;
    assert_eq!(r.status, 400);
    let r = s
        .send("POST", "/sandboxes", key, Some(b"{\"name\": 5}".to_vec()))
        .await;
    assert_eq!(r.status, 400);
    r.json();
    let r = s
        .post_json("/sandboxes", key, json!({"name": "x".repeat(500)}))
        .await;
    assert_eq!(r.status, 400);
    // Too large: 413.
    let id = s.own_sandbox().await;
    let big = vec![b'x'; lelantos_conform::reference::MAX_BODY + 1];
    let r = s
        .send(
            "PUT",
            &format!("/sandboxes/{id}/files?path=big"),
            key,
            Some(big.clone()),
        )
        .await;
    assert_eq!(r.status, 413);
    r.json();
    let r = s.send("POST", "/auth/login", Cred::None, Some(big)).await;
    assert_eq!(r.status, 413);
    // A file of exactly the cap is fine.
    let exact = vec![b'x'; lelantos_conform::reference::MAX_BODY];
    let r = s
        .send(
            "PUT",
            &format!("/sandboxes/{id}/files?path=exact"),
            key,
            Some(exact),
        )
        .await;
    assert_eq!(r.status, 201);
    // Missing query: 400.
    let r = s.get(&format!("/sandboxes/{id}/files"), key).await;
    assert_eq!(r.status, 400);
    r.json();
    // Unknown route: 404; wrong method: 405; both JSON.
    let r = s.get("/nope", key).await;
    assert_eq!(r.status, 404);
    r.json();
    let r = s.send("PATCH", "/sandboxes", key, None).await;
    assert_eq!(r.status, 405);
    r.json();
    let r = s.send("DELETE", "/admin/users", s.admin(), None).await;
    assert_eq!(r.status, 405);
    // Unknown sandbox: 404.
    assert_eq!(s.get("/sandboxes/sbx_nope", key).await.status, 404);
}

#[tokio::test]
async fn credentials_file_is_private_json() {
    use std::os::unix::fs::PermissionsExt;
    let s = plain().await;
    let temp = crate::support::temp_dir();
    let dir = temp.path();
    let path = dir.join("creds.json");
    lelantos_conform::reference::write_credentials(&path, &s.c).unwrap();
    // Overwriting works too (atomic rename).
    lelantos_conform::reference::write_credentials(&path, &s.c).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let back: lelantos_conform::reference::Credentials =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(back.api_key, s.c.api_key);
    assert_eq!(back.base_url, s.c.base_url);
    assert!(
        format!("{:?}", s.c).find(&s.c.api_key).is_none(),
        "Debug hides secrets"
    );
    let leftovers = std::fs::read_dir(dir).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file left");
}

#[tokio::test]
async fn generated_credentials_have_the_documented_shape() {
    let s = lelantos_conform_start_with_identities(10).await;
    let p = s.key_prefix().to_string();
    for k in [&s.c.api_key, &s.c.api_key_other_team, &s.c.api_key_revoked] {
        assert!(k.starts_with(&p));
        assert_eq!(k.len(), p.len() + 32);
    }
    assert!(!s.c.admin_token.starts_with(&p) && s.c.admin_token.len() >= 32);
    assert_eq!(s.c.extra_api_keys.len(), 10);
    let unique: HashSet<&String> = s.c.extra_api_keys.iter().collect();
    assert_eq!(unique.len(), 10);
    for k in &s.c.extra_api_keys {
        assert_eq!(s.get("/sandboxes", Cred::Key(k)).await.status, 200);
    }
    assert_eq!(
        s.get("/sandboxes", Cred::Key(&s.c.api_key_revoked))
            .await
            .status,
        401
    );
    s.server.shutdown().await;
}

async fn lelantos_conform_start_with_identities(n: usize) -> Srv {
    start(lelantos_conform::reference::ServeOptions {
        identities: n,
        ..Default::default()
    })
    .await
}
