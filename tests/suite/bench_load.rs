//! The benchmarks' lean HTTP/1.1 load generator (`benches/support/load.rs`, included here so
//! that its framing is tested with the suite: bench targets run without a test harness). Only
//! what it reads is tested; what it measures is the benchmarks' business.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// The suite uses the connection, not the timed runs the benchmarks drive with it.
#[allow(dead_code)]
#[path = "../../benches/support/load.rs"]
mod load;

/// A server that answers the same bytes to every request it reads.
async fn canned(answer: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        loop {
            let mut seen = Vec::new();
            while load::find(&seen, b"grant_type=x").is_none() {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            socket.write_all(answer).await.unwrap();
        }
    });
    addr
}

#[tokio::test]
async fn reads_length_and_chunked_answers_on_one_connection() {
    for answer in [
        &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"[..],
        &b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n"[..],
    ] {
        let addr = canned(answer).await;
        let request = load::Request::post_form(addr, "/t", &[("Authorization", "Basic eA==")], "grant_type=x");
        let mut connection = load::Connection::open(addr).await.unwrap();
        for _ in 0..3 {
            let response = connection.send(&request).await.unwrap();
            assert_eq!(response.body, b"hello");
            assert!(response.status == 200 || response.status == 401);
        }
    }
}
