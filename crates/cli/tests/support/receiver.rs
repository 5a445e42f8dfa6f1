//! A minimal webhook receiver on 127.0.0.1 for the end-to-end tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as received: lower-case headers and the body.
pub type Got = Arc<Mutex<Vec<(Vec<(String, String)>, String)>>>;

/// A minimal HTTP/1.1 receiver on 127.0.0.1 that answers 200 to everything.
pub fn receiver() -> (String, Got) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Got = Arc::default();
    let keep = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((k, v)) = l.split_once(':') {
                    headers.push((k.trim().to_lowercase(), v.trim().to_owned()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            keep.lock()
                .unwrap()
                .push((headers, String::from_utf8(body).unwrap()));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, got)
}

pub fn wait_for(got: &Got, n: usize) {
    let start = Instant::now();
    while got.lock().unwrap().len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting for {n} deliveries"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
