//! The baseline of `benches/auth_throughput.sh`: the same axum and runtime as the reference
//! server, one GET route (the spec's `list_sandboxes` path) answering the same JSON shape, and no
//! authentication or rate limiting. The reference server's throughput is judged against it.
//!
//! Usage: `bare_server [--addr ADDR]` (default 127.0.0.1:0); prints `listening on http://ADDR`.

use std::io::Write as _;
use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt as _;
use serde::Serialize;

#[derive(Serialize)]
struct Sandbox {
    id: &'static str,
    name: &'static str,
    team: &'static str,
}

#[derive(Serialize)]
struct Listing {
    sandboxes: Vec<Sandbox>,
}

async fn list() -> Response {
    // Serialized per request, as the reference server does.
    let body = serde_json::to_vec(&Listing {
        sandboxes: vec![Sandbox {
            id: "sbx_0123456789abcdef",
            name: "fixture",
            team: "team_0123456789ab",
        }],
    })
    .unwrap_or_default();
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut addr: SocketAddr = "127.0.0.1:0".parse().expect("a valid default");
    while let Some(a) = args.next() {
        if a == "--addr" {
            let v = args.next().unwrap_or_default();
            addr = v
                .parse()
                .map_err(|e| std::io::Error::other(format!("--addr {v}: {e}")))?;
        }
    }
    let spec = lelantos_conform::spec::Spec::builtin();
    let path = spec
        .endpoint("list_sandboxes")
        .map(|e| e.path.clone())
        .expect("the built-in spec has list_sandboxes");
    let app = Router::new().route(&path, get(list));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let mut out = std::io::stdout();
    writeln!(out, "listening on http://{local}")?;
    out.flush()?;
    axum::serve(listener, app).await
}
