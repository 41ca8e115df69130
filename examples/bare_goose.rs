//! The benchmark's baseline: a bare goose 0.19 program with one plain GET transaction, no
//! accounting, configured like `load` configures goose (in code, quiet, no telnet).
//!
//! `cargo run --release --example bare_goose -- URL USERS SECONDS`

use std::time::Instant;

use goose::prelude::*;

async fn get(user: &mut GooseUser) -> TransactionResult {
    let _ = user.get("/sandboxes").await?;
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
        .register_scenario(scenario!("bare").register_transaction(transaction!(get)))
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
