//! The realism proxy (`integration/realism.sh`, code in `integration/realism/`)
//! in front of a test's moto: AWS's asynchronous states, windows and faults
//! with time scaled. A test talks to AWS through [`Realism::sdk_config`] or
//! [`Realism::env`] and checks side effects directly against moto.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::{Moto, free_port, repo_root};

/// Settings the proxy starts with; everything else keeps its default (scale
/// ×1/60, floor 1 s, faults and throttling off). See
/// `integration/realism.sh help` for every setting.
#[derive(Clone, Debug, Default)]
pub struct RealismOptions {
    /// Time scale: every AWS duration is multiplied by it (default 1/60).
    pub scale: Option<f64>,
    /// Shortest scaled window in seconds (default 1).
    pub floor: Option<f64>,
    /// Seed of the fault RNG.
    pub seed: Option<u64>,
    /// Zones the "registrar" delegates to their Route 53 zone.
    pub public_zones: Vec<String>,
    /// Any other setting, as `--set KEY=JSON`.
    pub settings: BTreeMap<String, Value>,
}

impl RealismOptions {
    pub fn public_zone(mut self, zone: &str) -> Self {
        self.public_zones.push(zone.to_string());
        self
    }

    pub fn set(mut self, key: &str, value: Value) -> Self {
        self.settings.insert(key.to_string(), value);
        self
    }

    /// Overrides the real (unscaled) duration `name` in seconds.
    pub fn duration(mut self, name: &str, real_seconds: f64) -> Self {
        let durations = self
            .settings
            .entry("durations".to_string())
            .or_insert_with(|| Value::Object(Default::default()));
        durations[name] = Value::from(real_seconds);
        self
    }

    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(s) = self.scale {
            args.extend(["--scale".to_string(), s.to_string()]);
        }
        if let Some(f) = self.floor {
            args.extend(["--floor".to_string(), f.to_string()]);
        }
        if let Some(s) = self.seed {
            args.extend(["--seed".to_string(), s.to_string()]);
        }
        for z in &self.public_zones {
            args.extend(["--public-zone".to_string(), z.clone()]);
        }
        for (k, v) in &self.settings {
            args.extend(["--set".to_string(), format!("{k}={v}")]);
        }
        args
    }
}

/// A realism proxy started with `integration/realism.sh`, stopped on drop.
pub struct Realism {
    pub port: u16,
    pub endpoint: String,
    /// moto's own endpoint, for checks that must not go through the proxy.
    pub moto_endpoint: String,
    dir: tempfile::TempDir,
}

impl Realism {
    pub fn start(moto: &Moto, options: RealismOptions) -> Realism {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new(repo_root().join("integration/realism.sh"))
            .args(["start", &port.to_string(), &moto.endpoint])
            .arg(dir.path())
            .args(options.args())
            .status()
            .expect("run integration/realism.sh");
        assert!(status.success(), "the realism proxy did not start");
        Realism {
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            moto_endpoint: moto.endpoint.clone(),
            dir,
        }
    }

    /// The environment a process talking to AWS through the proxy needs.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// An SDK configuration through the proxy, with the SDK's default retries.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.endpoint, aws_config::retry::RetryConfig::standard())
    }

    /// As [`Realism::sdk_config`] with one attempt per call, so a test sees
    /// each injected error itself.
    pub fn sdk_config_no_retry(&self) -> aws_config::SdkConfig {
        sdk_config(&self.endpoint, aws_config::retry::RetryConfig::disabled())
    }

    /// An SDK configuration straight to moto (bypasses every rule).
    pub fn moto_sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(
            &self.moto_endpoint,
            aws_config::retry::RetryConfig::disabled(),
        )
    }

    /// Every counter the proxy keeps (`GET /realism/stats`).
    pub fn stats(&self) -> BTreeMap<String, u64> {
        let v = self.admin("GET", "/realism/stats", None);
        serde_json::from_value(v).expect("stats are a map of counters")
    }

    /// One counter, 0 if the rule never acted.
    pub fn stat(&self, name: &str) -> u64 {
        self.stats().get(name).copied().unwrap_or(0)
    }

    /// Merges `patch` into the proxy's settings (`POST /realism/config`).
    pub fn configure(&self, patch: Value) -> Value {
        self.admin("POST", "/realism/config", Some(patch))
    }

    /// Lets `seconds` of the proxy's clock pass for everything made so far
    /// (`POST /realism/settle`): creates finish, windows close. A bench sets
    /// up slowly-made shared parts at a fast scale, settles them, and then
    /// measures at another scale.
    pub fn settle(&self, seconds: f64) {
        self.admin(
            "POST",
            "/realism/settle",
            Some(serde_json::json!({ "seconds": seconds })),
        );
    }

    /// Forgets counters and clocks, back to the start settings.
    pub fn reset(&self) {
        self.admin("POST", "/realism/reset", None);
    }

    pub fn log_dir(&self) -> &Path {
        self.dir.path()
    }

    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the proxy");
        conn.set_read_timeout(Some(Duration::from_secs(30))).ok();
        write!(
            conn,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("write to the proxy");
        let mut answer = String::new();
        conn.read_to_string(&mut answer)
            .expect("read the proxy's answer");
        let (head, json) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "{method} {path}: {head}\n{json}"
        );
        serde_json::from_str(json).expect("a JSON answer")
    }
}

impl Drop for Realism {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("integration/realism.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

fn sdk_config(endpoint: &str, retry: aws_config::retry::RetryConfig) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test"),
        ))
        .retry_config(retry)
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
}
