//! The benchmark's baseline: a bare goose 0.19 program with one GET transaction and no
//! accounting, configured like `load` configures goose (in code, quiet, no telnet).
//!
//! `cargo run --release --example bare_goose -- URL USERS SECONDS [plain|shaped]`
//!
//! `plain` (the default) is goose's own `user.get`. `shaped` sends the swarm's request without
//! its accounting: the API-key header, a named request, the body read. The two apart show what
//! the request costs and what the swarm's accounting adds (benches/load_instructions.sh).

use std::time::Instant;

use goose::prelude::*;

async fn get(user: &mut GooseUser) -> TransactionResult {
    let _ = user.get("/sandboxes").await?;
    Ok(())
}

async fn get_shaped(user: &mut GooseUser) -> TransactionResult {
    let builder = user
        .get_request_builder(&GooseMethod::Get, "/sandboxes")?
        .header("X-API-Key", "lel_bench");
    let request = GooseRequest::builder()
        .set_request_builder(builder)
        .name("list_sandboxes")
        .build();
    if let Ok(response) = user.request(request).await?.response {
        let _ = response.text().await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let args: Vec<String> = std::env::args().collect();
    let host = args
        .get(1)
        .cloned()
        .unwrap_or("http://127.0.0.1:8080".into());
    let users: usize = args.get(2).and_then(|u| u.parse().ok()).unwrap_or(50);
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let transaction = match args.get(4).map(String::as_str) {
        None | Some("plain") => transaction!(get),
        Some("shaped") => transaction!(get_shaped),
        Some(other) => {
            eprintln!("bare_goose: the request is `plain` or `shaped`, not {other:?}");
            std::process::exit(2);
        }
    };
    let mut config = goose::config::GooseConfiguration::default();
    config.host = Some(host);
    config.users = Some(users);
    config.increase_rate = Some(format!("{}", users * 20));
    config.run_time = Some(secs.to_string());
    config.quiet = 1;
    config.no_telnet = true;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    let started = Instant::now();
    let metrics = GooseAttack::initialize_with_config(config)?
        .register_scenario(scenario!("bare").register_transaction(transaction))
        .execute()
        .await?;
    let requests: usize = metrics
        .requests
        .values()
        .map(|r| r.success_count + r.fail_count)
        .sum();
    println!(
        "bare_goose: {requests} requests in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
