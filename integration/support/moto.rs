//! A private moto server (started with `integration/moto.sh` on a free
//! loopback port, stopped on drop) and the AWS settings that point at it.
//! Shared by the end-to-end suites and, through `#[path]`, by the library's
//! own tests (`src/engine/testkit.rs`): one way to start moto.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A moto server started with `integration/moto.sh`, stopped on drop.
pub struct Moto {
    pub port: u16,
    pub endpoint: String,
    dir: tempfile::TempDir,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new(repo_root().join("integration/moto.sh"))
            .args(["start", &port.to_string()])
            .arg(dir.path())
            .status()
            .expect("run integration/moto.sh");
        assert!(status.success(), "moto did not start");
        Moto {
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    /// The environment every process talking to this moto needs. Credentials
    /// are set so that the SDK never probes the EC2 metadata address.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// An SDK configuration pointing at this moto, built without reading the
    /// process environment.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test"),
            ))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    }

    /// The venv's python, for checks with an independent client (boto3).
    pub fn python(&self) -> String {
        let out = Command::new(repo_root().join("integration/moto.sh"))
            .arg("python")
            .output()
            .expect("moto.sh python");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn log_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("integration/moto.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .unwrap()
        .port()
}
