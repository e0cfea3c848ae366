//! kubectl against the test cluster named by ENVCTL_TEST_KUBECONFIG, for the
//! tests that check envctl's manifests with Kubernetes' own tooling (Pod
//! Security admission, Secrets at rest). Include it with
//! `#[path = "support/kubectl.rs"] mod kubectl;`.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one kubectl run printed, and whether it succeeded.
pub struct Ran {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// kubectl with the test cluster's admin kubeconfig.
pub struct Kube {
    bin: String,
    kubeconfig: PathBuf,
}

impl Kube {
    /// The test cluster, or a panic saying how to get one.
    pub fn from_env(repo: &Path) -> Kube {
        let kubeconfig = std::env::var("ENVCTL_TEST_KUBECONFIG").expect(
            "ENVCTL_TEST_KUBECONFIG is not set: run `make test`, or start a cluster with \
             `integration/k8s/cluster.sh up` and set it to `integration/k8s/cluster.sh kubeconfig`",
        );
        let out = Command::new(repo.join("integration/k8s/cluster.sh"))
            .arg("kubectl")
            .output()
            .expect("run integration/k8s/cluster.sh kubectl");
        assert!(out.status.success(), "no kubectl: run `make setup`");
        Kube {
            bin: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            kubeconfig: PathBuf::from(kubeconfig),
        }
    }

    /// The cluster's directory (where `cluster.sh up` keeps its state).
    pub fn cluster_dir(&self) -> PathBuf {
        self.kubeconfig
            .parent()
            .expect("the kubeconfig is inside the cluster directory")
            .to_path_buf()
    }

    /// `kubectl ARGS` with `stdin` fed in; logged for a failing test's output.
    pub fn run(&self, args: &[&str], stdin: &str) -> Ran {
        let mut child = Command::new(&self.bin)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kubectl");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(stdin.as_bytes())
            .expect("write kubectl's stdin");
        let out = child.wait_with_output().expect("wait for kubectl");
        let ran = Ran {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!(
            "$ kubectl {} -> {}\n{}",
            args.join(" "),
            if ran.ok { "ok" } else { "failed" },
            ran.stderr.trim_end()
        );
        ran
    }

    /// `kubectl ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str], stdin: &str) -> String {
        let ran = self.run(args, stdin);
        assert!(ran.ok, "kubectl {} failed: {}", args.join(" "), ran.stderr);
        ran.stdout
    }
}

/// Deletes a namespace when dropped, whatever the test did.
pub struct DeleteNamespace<'a>(pub &'a Kube, pub String);

impl Drop for DeleteNamespace<'_> {
    fn drop(&mut self) {
        self.0.run(
            &[
                "delete",
                "namespace",
                &self.1,
                "--ignore-not-found",
                "--wait=false",
            ],
            "",
        );
    }
}
