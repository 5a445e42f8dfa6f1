//! A webhook receiver on 127.0.0.1 for the tests, and a check of `Promptops-Signature`
//! by an HMAC-SHA256 written here from RFC 2104, independently of the server's.

use axum::http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
}

#[derive(Default)]
struct ReceiverState {
    got: Vec<Received>,
    /// Statuses to answer next, in order; 200 once empty.
    script: VecDeque<u16>,
    /// Answer this to everything once the script is done (default 200).
    then: Option<u16>,
}

#[derive(Clone, Default)]
pub struct Receiver(Arc<Mutex<ReceiverState>>);

impl Receiver {
    /// A receiver on a free port of 127.0.0.1; its URL.
    pub async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let me = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let me = me.clone();
                async move {
                    let mut s = me.0.lock().unwrap();
                    s.got.push(Received { headers, body });
                    let status = s.script.pop_front().or(s.then).unwrap_or(200);
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/hook")
    }

    pub fn got(&self) -> Vec<Received> {
        self.0.lock().unwrap().got.clone()
    }

    pub fn answer(&self, script: &[u16], then: Option<u16>) {
        let mut s = self.0.lock().unwrap();
        s.script = script.iter().copied().collect();
        s.then = then;
    }

    /// Waits (up to 10 s) until `done` holds of what was received.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..500 {
            let got = self.got();
            if done(&got) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out waiting for {what}; received: {:#?}", self.got());
    }
}

// ----- an HMAC-SHA256 of our own (RFC 2104 over sha2), to check the server's ------

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `Promptops-Signature` the way a receiver would, by hand.
pub fn assert_signed(r: &Received, secret: &str) {
    let header = r.headers["promptops-signature"].to_str().unwrap();
    let (t, v1) = header
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("signature header shape: {header}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t_secs: i64 = t.parse().unwrap();
    assert!((now - t_secs).abs() <= 60, "t={t} is not now ({now})");
    let expected = hmac_sha256(secret.as_bytes(), format!("{t}.{}", r.body).as_bytes());
    assert_eq!(v1, hex(&expected), "v1 of {header}");
    // And the helper receivers are pointed to agrees.
    promptops_api::webhooks::verify_signature(secret, header, r.body.as_bytes(), now, 300).unwrap();
}
