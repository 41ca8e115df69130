//! A client for timing measurements: one keep-alive connection (a pool of one idle connection,
//! requests strictly in sequence), the monotonic clock read around the whole exchange (request
//! sent, head and body read), nothing else on the path: no transcript, no observers.

use std::time::{Duration, Instant};

use reqwest::Method;

use super::Transport;
use crate::error::Error;

/// The most of a body read per timed request: denials are small; anything bigger is not what the
/// test times.
const TIMING_BODY_CAP: usize = 64 * 1024;

pub struct Timer {
    client: reqwest::Client,
    base_url: String,
}

/// One timed exchange.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub status: u16,
    pub elapsed: Duration,
    /// The `Retry-After` value in seconds, when the header was there and numeric.
    pub retry_after: Option<u64>,
}

impl Timer {
    pub fn new(base_url: &str, transport: &Transport) -> Result<Self, Error> {
        let client = transport
            .builder(true)
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| Error::Usage(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
        })
    }

    /// Sends `method path` with the one header and times it; the error is a transport error
    /// in words.
    pub async fn time(
        &self,
        method: &Method,
        path: &str,
        retry_header: &str,
        header: (&str, &str),
    ) -> Result<Timed, String> {
        let req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base_url))
            .header(header.0, header.1);
        let start = Instant::now();
        let mut resp = req.send().await.map_err(|e| super::describe(&e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(retry_header)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        // The body is read (and dropped) inside the measured span: the connection is reused
        // only once it is. A hostile target's huge body is cut off at `BODY_CAP` (the
        // connection is then dropped, not reused).
        let mut read = 0usize;
        while let Some(chunk) = resp.chunk().await.map_err(|e| super::describe(&e))? {
            read += chunk.len();
            if read >= TIMING_BODY_CAP {
                break;
            }
        }
        Ok(Timed {
            status,
            elapsed: start.elapsed(),
            retry_after,
        })
    }
}
