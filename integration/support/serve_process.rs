//! An `envctl serve` process for a test: started from a prepared command
//! with `--listen 127.0.0.1:0`, its address read from its `listening on`
//! line, everything it logs kept (to look for leaks); killed on drop.
//! Include with `#[path = "support/serve_process.rs"] mod serve_process;`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct ServeProcess {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Its standard error so far.
    pub log: Arc<Mutex<String>>,
}

impl ServeProcess {
    /// Starts `command` (an `envctl serve ...` without `--listen`) and waits
    /// up to a minute for it to listen.
    pub fn spawn(mut command: Command) -> ServeProcess {
        let mut child = command
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start envctl serve");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = BufReader::new(child.stderr.take().expect("piped stderr"));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                if let Some(url) = line.split("listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                }
                let mut kept = sink.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => ServeProcess { child, base, log },
            Err(_) => {
                let _ = child.kill();
                panic!("envctl serve did not start:\n{}", log.lock().unwrap())
            }
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
