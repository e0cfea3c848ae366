//! Reading a server-sent event stream of `envctl serve` (a run's, a
//! rollout's) the way a client does: event by event until `end`.

use std::time::Duration;

use serde_json::Value;

/// Reads `resp`'s events until one named `end` (keep-alive comments
/// skipped); the names in order and `end`'s data. Panics when the stream
/// closes first or `end` takes longer than `limit`.
pub async fn until_end(resp: reqwest::Response, limit: Duration) -> (Vec<String>, Value) {
    use futures::StreamExt;
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut names = Vec::new();
    let mut buf = String::new();
    let mut stream = resp.bytes_stream();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no `end` within {limit:?}: {names:?}"));
        let Some(chunk) = chunk else {
            panic!("stream closed before `end`: {names:?}")
        };
        buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        while let Some(i) = buf.find("\n\n") {
            let block: String = buf.drain(..i + 2).collect();
            let Some(name) = block.lines().find_map(|l| l.strip_prefix("event: ")) else {
                continue; // keep-alive comment
            };
            names.push(name.to_string());
            if name == "end" {
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
                return (names, serde_json::from_str(&data).unwrap());
            }
        }
    }
}
