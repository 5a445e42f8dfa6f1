//! `promptops-bench-bare FILE ADDR`: answers every GET with FILE's bytes as
//! `application/json`, and nothing else: no routing beyond one fallback, no
//! authentication, no logging. The same runtime, allocator and HTTP stack as
//! `promptops serve`, so the gap between the two is what promptops adds on its hot path.

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(addr)) = (args.next(), args.next()) else {
        eprintln!("usage: promptops-bench-bare FILE ADDR (e.g. body.json 127.0.0.1:8080)");
        return ExitCode::from(2);
    };
    let body = match std::fs::read(&file) {
        Ok(bytes) => Bytes::from(bytes),
        Err(e) => {
            eprintln!("cannot read {file}: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::from(2);
        }
    };
    let app = Router::new().fallback(move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body) }
    });
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve: {e}");
            ExitCode::FAILURE
        }
    }
}
