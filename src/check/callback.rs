//! The listener that catches server-side fetches (AUTH-TOKEN-NO-KEY-FETCH): tokens whose `jku`,
//! `x5u` or embedded `jwk` point at it are sent, and any request that reaches it is a fetch the
//! target made on the strength of a token it should not have trusted (SSRF, RFC 8725 3.10).
//!
//! It listens on loopback, or on the port of the profile's `callback_url` for a remote target
//! that can reach the harness there. Every request is answered with an empty JWKS and recorded by
//! its path (which names the case that caused it); at most [`MAX_HITS`] are kept, and each
//! connection is read for at most two seconds.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::error::Error;

const MAX_HITS: usize = 1000;

pub struct Listener {
    /// The URL the target is given, without a trailing slash.
    pub base: String,
    /// Whether the target can reach it: a loopback target, or a `callback_url` given.
    pub reachable: bool,
    hits: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    /// Starts listening: on loopback for a target on this machine (or one without
    /// `callback_url`), else on every interface at `callback_url`'s port.
    pub async fn start(callback_url: Option<&str>, target_url: &str) -> Result<Listener, Error> {
        let local = is_loopback(target_url);
        let (bind, base): (SocketAddr, Option<String>) = match callback_url {
            Some(url) if !local => {
                let port = reqwest::Url::parse(url)
                    .ok()
                    .and_then(|u| u.port())
                    .ok_or_else(|| Error::Usage(format!("callback_url `{url}` needs a port")))?;
                (
                    SocketAddr::from(([0, 0, 0, 0], port)),
                    Some(url.trim_end_matches('/').to_string()),
                )
            }
            _ => (SocketAddr::from(([127, 0, 0, 1], 0)), None),
        };
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|e| Error::io(format!("cannot listen for fetches on {bind}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the fetch listener's address", e))?;
        let reachable = local || base.is_some();
        let base = base.unwrap_or_else(|| format!("http://{addr}"));
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = hits.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut len = 0;
                    let read = tokio::time::timeout(Duration::from_secs(2), async {
                        while len < buf.len() {
                            match stream.read(&mut buf[len..]).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => len += n,
                            }
                            if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                                break;
                            }
                        }
                    })
                    .await;
                    let head = String::from_utf8_lossy(&buf[..len]);
                    let line = head.lines().next().unwrap_or("").to_string();
                    {
                        let mut h = seen.lock().expect("hits lock");
                        if h.len() < MAX_HITS {
                            h.push(if line.is_empty() {
                                "a connection".to_string()
                            } else {
                                line
                            });
                        }
                    }
                    if read.is_ok() {
                        let body = br#"{"keys":[]}"#;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(head.as_bytes()).await;
                        let _ = stream.write_all(body).await;
                    }
                });
            }
        });
        Ok(Listener {
            base,
            reachable,
            hits,
            task,
        })
    }

    /// A URL of the listener for one case.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// What reached the listener so far, each as its request line.
    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().expect("hits lock").clone()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether a URL's host is this machine's loopback.
pub fn is_loopback(url: &str) -> bool {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .is_some_and(|h| {
            h == "localhost"
                || h.trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|a| a.is_loopback())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_what_reaches_it() {
        let l = Listener::start(None, "http://127.0.0.1:9").await.unwrap();
        assert!(l.reachable);
        let url = l.url("jku/7");
        let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
        assert_eq!(body, r#"{"keys":[]}"#);
        assert_eq!(l.hits(), vec!["GET /jku/7 HTTP/1.1".to_string()]);
        let remote = Listener::start(None, "https://staging.example")
            .await
            .unwrap();
        assert!(!remote.reachable);
        assert!(is_loopback("http://[::1]:8080/x") && !is_loopback("http://10.0.0.1"));
    }
}
