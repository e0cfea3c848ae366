//! For the engine's unit tests: a stand-in for S3 on a loopback port that
//! answers every request with success, so that a whole `create` (which
//! makes sure the value store's bucket exists) runs without a cloud. It
//! keeps nothing: reads find no object, and `GetBucketTagging` an empty
//! tag set.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Starts the stand-in on the current runtime; its endpoint URL.
pub async fn start() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(serve(conn));
        }
    });
    format!("http://{addr}")
}

/// Answers each request on one connection until the client closes it.
async fn serve(mut conn: TcpStream) {
    let mut buf = Vec::new();
    loop {
        // The head, then as many body bytes as it announces.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 8192];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        let request_line = head.lines().next().unwrap_or_default();
        let (status, body) = if request_line.starts_with("GET ") && request_line.contains("tagging")
        {
            ("200 OK", "<Tagging><TagSet></TagSet></Tagging>")
        } else if request_line.starts_with("GET ") {
            (
                "404 Not Found",
                "<Error><Code>NoSuchKey</Code><Message>not kept here</Message></Error>",
            )
        } else {
            ("200 OK", "")
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if conn.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}
