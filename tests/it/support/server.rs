//! The reference server in this process, on port 0, and requests to it with each kind of
//! credential.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use lelantos_conform::reference::{
    self, Credentials, Fault, LimiterKind, RunningServer, ServeOptions,
};
use lelantos_conform::spec::Spec;

pub struct Srv {
    pub server: RunningServer,
    pub c: Credentials,
    pub http: reqwest::Client,
    pub spec: Arc<Spec>,
}

pub async fn start(opts: ServeOptions) -> Srv {
    let spec = Arc::new(Spec::builtin());
    let opts = ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..opts
    };
    let server = reference::start(spec.clone(), opts)
        .await
        .expect("server starts");
    let c = server.credentials.clone();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    Srv {
        server,
        c,
        http,
        spec,
    }
}

pub async fn plain() -> Srv {
    start(ServeOptions::default()).await
}

pub async fn with_window(kind: LimiterKind, window: Duration, faults: &[Fault]) -> Srv {
    start(ServeOptions {
        limiter: kind,
        window: Some(window),
        faults: faults.to_vec(),
        ..ServeOptions::default()
    })
    .await
}

/// A credential to send.
#[derive(Clone, Copy)]
pub enum Cred<'a> {
    None,
    Key(&'a str),
    Bearer(&'a str),
    Admin(&'a str),
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Everything a client sees except the status: headers and body, for "no echo" checks.
    pub fn visible(&self) -> String {
        let mut s = self.body.clone();
        for (k, v) in &self.headers {
            s.push_str(&format!("\n{k}: {}", String::from_utf8_lossy(v.as_bytes())));
        }
        s
    }
}

impl Srv {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.c.base_url)
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        cred: Cred<'_>,
        body: Option<Vec<u8>>,
    ) -> Reply {
        self.send_with(method, path, cred, &[], body).await
    }

    /// `send` with extra request headers.
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        cred: Cred<'_>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let auth = &self.spec.auth;
        req = match cred {
            Cred::None => req,
            Cred::Key(k) => req.header(auth.api_key.header.as_str(), k),
            Cred::Bearer(t) => req.header(
                auth.access_token.header.as_str(),
                format!("{} {t}", auth.access_token.scheme),
            ),
            Cred::Admin(t) => req.header(auth.admin_token.header.as_str(), t),
        };
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.expect("request sent");
        Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap_or_default(),
        }
    }

    pub async fn get(&self, path: &str, cred: Cred<'_>) -> Reply {
        self.send("GET", path, cred, None).await
    }

    pub async fn post_json(&self, path: &str, cred: Cred<'_>, body: Value) -> Reply {
        self.send("POST", path, cred, Some(serde_json::to_vec(&body).unwrap()))
            .await
    }

    pub fn key(&self) -> Cred<'_> {
        Cred::Key(&self.c.api_key)
    }

    pub fn admin(&self) -> Cred<'_> {
        Cred::Admin(&self.c.admin_token)
    }

    /// Logs in; returns (access token, refresh token).
    pub async fn login(&self) -> (String, String) {
        let r = self
            .post_json(
                "/auth/login",
                Cred::None,
                json!({"email": self.c.email, "password": self.c.password}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        (
            v["access_token"].as_str().unwrap().to_string(),
            v["refresh_token"].as_str().unwrap().to_string(),
        )
    }

    pub async fn refresh(&self, token: &str) -> Reply {
        self.post_json("/auth/refresh", Cred::None, json!({"refresh_token": token}))
            .await
    }

    pub fn prefix(&self) -> &str {
        &self.spec.auth.access_token.prefix
    }

    pub fn key_prefix(&self) -> &str {
        &self.spec.auth.api_key.prefix
    }

    pub fn secret(&self) -> &[u8] {
        self.c.jwt_secret.as_bytes()
    }

    /// Creates sandboxes one by one until the first refusal (at most `max`); returns the number
    /// created and the refusal.
    pub async fn create_until_refused(&self, cred: Cred<'_>, max: usize) -> (usize, Option<Reply>) {
        for i in 0..max {
            let r = self
                .post_json("/sandboxes", cred, json!({"name": "t"}))
                .await;
            if r.status != 201 {
                return (i, Some(r));
            }
        }
        (max, None)
    }

    /// A path of a file in the first team's fixture sandbox.
    pub async fn own_sandbox(&self) -> String {
        let r = self.get("/sandboxes", self.key()).await;
        r.json()["sandboxes"][0]["id"].as_str().unwrap().to_string()
    }
}
