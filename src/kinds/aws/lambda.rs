//! The `aws.lambda.function` kind: a Lambda function from a local source
//! directory (zipped deterministically, so the same source gives the same
//! CodeSha256 and no needless update), its IAM execution role
//! `<name>-role`, its log group `/aws/lambda/<name>` ([`super::lambda_logs`]),
//! and optionally an SQS event source mapping.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Environment, FunctionCode, FunctionConfiguration, LastUpdateStatus, Runtime, State,
};
use schemars::JsonSchema;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::classify;
use super::lambda_logs;
use super::owner::{managed_by, refuse_foreign};
use super::s3::partition;
use super::wait::poll_until;
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};
use crate::tenant::tags;

/// Function names are at most 64 characters.
const MAX_NAME: usize = 64;
/// Role names are at most 64 characters, `-role` included.
const MAX_ROLE_BASE: usize = 64 - ROLE_SUFFIX.len();
const ROLE_SUFFIX: &str = "-role";
const DEFAULT_HANDLER: &str = "index.handler";
const DEFAULT_RUNTIME: &str = "python3.12";
/// Direct uploads are limited to 50 MB zipped (Lambda quotas page).
const MAX_ZIP_BYTES: usize = 50 * 1024 * 1024;
/// Inline policy that lets the function read its queue.
const SQS_POLICY: &str = "envctl-sqs-read";
const BASIC_EXECUTION: &str = "service-role/AWSLambdaBasicExecutionRole";
const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
/// Lambda quotas: 4 KB for all environment variables together.
const MAX_ENVIRONMENT_BYTES: usize = 4096;
/// Keys Lambda reserves (Lambda developer guide, "Defined runtime
/// environment variables": "Lambda ... reserves these keys; you can't set
/// them in your function's configuration").
const RESERVED_ENVIRONMENT: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];
/// How long `apply` waits for an update in progress before changing the
/// function again (Lambda refuses concurrent updates).
const UPDATE_WAIT: Duration = Duration::from_secs(90);

pub struct Function;

/// The kind's name in stacks.
const NAME: &str = "aws.lambda.function";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<FunctionProps>(NAME));

/// A Lambda function from a local source directory, with its execution role
/// and log group, optionally triggered by an SQS queue.
///
/// The source is zipped deterministically (sorted entries, fixed
/// timestamps), so the same source gives the same CodeSha256 and no needless
/// update. The role is `<name>-role`, the log group `/aws/lambda/<name>`.
/// Rules: CreateFunction (Lambda API reference): MemorySize 128-10240 MB,
/// Timeout 1-900 s, Runtime one of the enum's values, Handler at most 128
/// characters, environment keys `[a-zA-Z]([a-zA-Z0-9_])+`, not reserved
/// (Lambda developer guide, "Defined runtime environment variables") and
/// 4 KB in all (Lambda quotas); the log retention one of
/// PutRetentionPolicy's values (CloudWatch Logs API reference). The function
/// name (`envctl-<tenant>-<id>`, at most 64 of `[a-zA-Z0-9-_]`,
/// FunctionName) and the role name (`<name>-role`, at most 64 of
/// `[\w+=,.@-]`, IAM CreateRole RoleName) are envctl's, valid by
/// construction.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FunctionProps {
    /// The code: a directory or file, relative to the stack file (resolved
    /// when the stack is loaded), e.g. `assets/thumbnailer`.
    source: String,
    /// The entry point, `file.function`; default: `index.handler`.
    #[serde(default)]
    #[schemars(length(min = 1, max = 128))]
    handler: Option<String>,
    /// The Lambda runtime, e.g. `nodejs22.x`; default: `python3.12`.
    #[serde(default)]
    runtime: Option<String>,
    /// Memory in MB, 128-10240 (a number or a numeric string); default: 128.
    #[serde(default)]
    memory_mb: Option<Whole>,
    /// Seconds a run may take, 1-900 (a number or a numeric string);
    /// default: 30.
    #[serde(default)]
    timeout_seconds: Option<Whole>,
    /// Environment variables, e.g. `{QUEUE_URL: "${jobs.url}"}`: names of
    /// letters, digits and `_` starting with a letter; values strings,
    /// numbers or booleans, 4 KB in all (for secrets use the value store);
    /// default: none.
    #[serde(default)]
    environment: BTreeMap<String, EnvValue>,
    /// An SQS queue ARN, e.g. `${jobs.arn}`: the function is triggered by
    /// it (event source mapping) and its role may read it; default: none.
    #[serde(default)]
    queue_arn: Option<String>,
    /// Days the log group `/aws/lambda/<name>` keeps logs: 1, 3, 5, 7, 14,
    /// 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    /// 2922, 3288 or 3653 (a number or a numeric string); default: 14.
    #[serde(default)]
    log_retention_days: Option<Whole>,
}

/// A whole number, written as a number or as a string (`"256"`, or a
/// `${ref}` until resolved).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
enum Whole {
    Number(i64),
    Text(String),
}

impl Whole {
    /// The number; `Ok(None)` while a reference is unresolved.
    fn value(&self, name: &str) -> Result<Option<i64>, PropIssue> {
        match self {
            Whole::Number(n) => Ok(Some(*n)),
            Whole::Text(s) if is_ref(s) => Ok(None),
            Whole::Text(s) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| PropIssue::new(&[name], "must be a whole number, e.g. 256")),
        }
    }
}

/// An environment variable's value: a string, number or boolean.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
enum EnvValue {
    Text(String),
    Number(serde_json::Number),
    Bool(bool),
}

impl EnvValue {
    fn text(&self) -> String {
        match self {
            EnvValue::Text(s) => s.clone(),
            EnvValue::Number(n) => n.to_string(),
            EnvValue::Bool(b) => b.to_string(),
        }
    }
}

/// The properties, checked.
#[derive(Debug)]
struct Spec {
    source: PathBuf,
    handler: String,
    runtime: String,
    memory_mb: i32,
    timeout_seconds: i32,
    environment: HashMap<String, String>,
    queue_arn: Option<String>,
    log_retention_days: i32,
}

impl KindProps for FunctionProps {
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        if self.source.trim().is_empty() {
            issues.push(PropIssue::new(
                &["source"],
                "is empty; give a directory, relative to the stack file, such as assets/thumbnailer",
            ));
        }
        let mut range = |name: &str, v: &Option<Whole>, lo: i64, hi: i64, what: &str| match v
            .as_ref()
            .map(|w| w.value(name))
        {
            Some(Err(issue)) => issues.push(issue),
            Some(Ok(Some(n))) if !(lo..=hi).contains(&n) => issues.push(PropIssue::new(
                &[name],
                format!("is {n}; Lambda accepts {lo} to {hi}{what}"),
            )),
            _ => {}
        };
        range("memory_mb", &self.memory_mb, 128, 10_240, "");
        range(
            "timeout_seconds",
            &self.timeout_seconds,
            1,
            900,
            " (15 minutes)",
        );
        if let Some(handler) = self.handler.as_deref().filter(|h| !is_ref(h))
            && (handler.is_empty() || handler.len() > 128 || handler.contains(char::is_whitespace))
        {
            issues.push(PropIssue::new(
                &["handler"],
                "is not a handler like index.handler (file.function, no spaces)",
            ));
        }
        // CreateFunction `Runtime` is an enum (Lambda API reference); the
        // SDK lists its values. AWS refuses the deprecated ones for new
        // functions with its own message.
        if let Some(runtime) = self.runtime.as_deref().filter(|r| !is_ref(r))
            && !Runtime::values().contains(&runtime)
        {
            issues.push(PropIssue::new(
                &["runtime"],
                format!(
                    "'{runtime}' is not a Lambda runtime; use one of python3.12, python3.13, \
                     nodejs20.x, nodejs22.x, java21, provided.al2023, ... (Lambda developer \
                     guide, \"Lambda runtimes\")"
                ),
            ));
        }
        for k in self.environment.keys() {
            let valid = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                issues.push(PropIssue::new(
                    &["environment", k],
                    "is not a valid variable name (letters, digits and _, starting with a letter)",
                ));
            } else if RESERVED_ENVIRONMENT.contains(&k.as_str()) {
                // Values may be secret: never echo them.
                issues.push(PropIssue::new(
                    &["environment", k],
                    "is reserved by Lambda (it sets it itself); use another name",
                ));
            }
        }
        // Lambda quotas: "Function environment variables: 4 KB, for all
        // environment variables associated with the function, in
        // aggregate". A value still holding a ${ref} is measured once
        // resolved.
        let values: Vec<String> = self.environment.values().map(EnvValue::text).collect();
        if values.iter().all(|v| !is_ref(v)) {
            let total: usize = self.environment.keys().map(String::len).sum::<usize>()
                + values.iter().map(String::len).sum::<usize>();
            if total > MAX_ENVIRONMENT_BYTES {
                issues.push(PropIssue::new(
                    &["environment"],
                    format!(
                        "the variables take {total} bytes; Lambda allows 4096 in all (put large \
                         values in the value store or S3)"
                    ),
                ));
            }
        }
        if let Some(q) = self.queue_arn.as_deref().filter(|q| !is_ref(q))
            && !(q.starts_with("arn:") && q.contains(":sqs:"))
        {
            issues.push(PropIssue::new(
                &["queue_arn"],
                "is not an SQS queue ARN; use e.g. ${jobs.arn}",
            ));
        }
        match self
            .log_retention_days
            .as_ref()
            .map(|w| w.value("log_retention_days"))
        {
            Some(Err(issue)) => issues.push(issue),
            Some(Ok(Some(days)))
                if !lambda_logs::RETENTION_DAYS
                    .iter()
                    .any(|d| i64::from(*d) == days) =>
            {
                issues.push(PropIssue::new(
                    &["log_retention_days"],
                    format!(
                        "is {days}; CloudWatch Logs accepts {:?}",
                        lambda_logs::RETENTION_DAYS
                    ),
                ))
            }
            _ => {}
        }
        issues
    }
}

impl FunctionProps {
    /// The checked properties of resolved values.
    fn spec(self) -> Result<Spec, KindError> {
        if let Some(issue) = self.check().into_iter().next() {
            return Err(KindError::Permanent(issue.sentence()));
        }
        let number = |name: &str, v: &Option<Whole>, default: i64| -> Result<i64, KindError> {
            match v.as_ref().map(|w| w.value(name)) {
                None => Ok(default),
                Some(Ok(Some(n))) => Ok(n),
                Some(Ok(None)) => Err(KindError::Permanent(format!(
                    "property '{name}': holds an unresolved reference"
                ))),
                Some(Err(issue)) => Err(KindError::Permanent(issue.sentence())),
            }
        };
        Ok(Spec {
            log_retention_days: number(
                "log_retention_days",
                &self.log_retention_days,
                lambda_logs::DEFAULT_RETENTION_DAYS as i64,
            )? as i32,
            memory_mb: number("memory_mb", &self.memory_mb, 128)? as i32,
            timeout_seconds: number("timeout_seconds", &self.timeout_seconds, 30)? as i32,
            source: PathBuf::from(self.source.trim()),
            handler: self.handler.unwrap_or_else(|| DEFAULT_HANDLER.into()),
            runtime: self.runtime.unwrap_or_else(|| DEFAULT_RUNTIME.into()),
            environment: self
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), v.text()))
                .collect(),
            queue_arn: self.queue_arn,
        })
    }
}

static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "arn",
        secret: false,
        doc: "the function ARN",
    },
    OutputSpec {
        name: "name",
        secret: false,
        doc: "the function name, envctl-<tenant>-<id>",
    },
    OutputSpec {
        name: "role_arn",
        secret: false,
        doc: "the execution role ARN (<name>-role)",
    },
    OutputSpec {
        name: "log_group",
        secret: false,
        doc: "the function's log group, /aws/lambda/<name>",
    },
    OutputSpec {
        name: "code_sha256",
        secret: false,
        doc: "base64 SHA-256 of the deployed package (as Lambda reports it)",
    },
    OutputSpec {
        name: "event_source_mapping_id",
        secret: false,
        doc: "the UUID of the SQS event source mapping (only with queue_arn)",
    },
];

// ------------------------------------------------------------- package ----

/// Files under `dir` (relative path with '/', absolute path), skipping
/// hidden entries and Python bytecode caches.
fn collect(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "__pycache__" || name.ends_with(".pyc") {
            continue;
        }
        let path = entry.path();
        let rel_name = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if kind.is_dir() {
            collect(&path, &rel_name, out)?;
        } else if kind.is_symlink() && path.is_dir() {
            return Err(format!(
                "{} is a symbolic link to a directory, which is not packaged; copy it instead",
                path.display()
            ));
        } else {
            out.push((rel_name, path));
        }
    }
    Ok(())
}

/// A zip of `source` that depends only on the files' names, contents and
/// executable bits: entries sorted by path, timestamps 1980-01-01, Unix
/// permissions 0644/0755.
fn package(source: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(source).map_err(|e| format!("{}: {e}", source.display()))?;
    let mut files = Vec::new();
    if meta.is_dir() {
        collect(source, "", &mut files)?;
    } else {
        let name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| format!("{} has no file name", source.display()))?;
        files.push((name, source.to_path_buf()));
    }
    if files.is_empty() {
        return Err(format!("{} contains no files", source.display()));
    }
    files.sort();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, path) in files {
        let contents = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        #[cfg(unix)]
        let executable = {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        };
        #[cfg(not(unix))]
        let executable = false;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::DEFAULT)
            .system(zip::System::Unix)
            .unix_permissions(if executable { 0o755 } else { 0o644 });
        zip.start_file(name.as_str(), options)
            .and_then(|()| zip.write_all(&contents).map_err(Into::into))
            .map_err(|e| format!("zip {name}: {e}"))?;
    }
    let bytes = zip.finish().map_err(|e| format!("zip: {e}"))?.into_inner();
    if bytes.len() > MAX_ZIP_BYTES {
        return Err(format!(
            "{} zips to {} MB; Lambda accepts at most 50 MB uploaded directly",
            source.display(),
            bytes.len() / (1024 * 1024)
        ));
    }
    Ok(bytes)
}

/// Lambda's CodeSha256: base64 of the SHA-256 of the package.
fn code_sha256(zip: &[u8]) -> String {
    aws_smithy_types::base64::encode(Sha256::digest(zip))
}

/// Packages `spec.source`, resolved against the current directory.
async fn build_package(source: &Path) -> Result<Vec<u8>, KindError> {
    let resolved = if source.is_absolute() {
        source.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| KindError::Permanent(format!("current directory: {e}")))?
            .join(source)
    };
    let shown = source.display().to_string();
    let result = tokio::task::spawn_blocking(move || {
        if !resolved.exists() {
            return Err(format!(
                "{} does not exist (source paths are relative to the directory envctl runs in)",
                resolved.display()
            ));
        }
        package(&resolved)
    })
    .await
    .map_err(|e| KindError::Permanent(format!("packaging {shown}: {e}")))?;
    result.map_err(|m| KindError::Permanent(format!("properties: source {shown}: {m}")))
}

// ---------------------------------------------------------------- role ----

fn role_name(cx: &Cx) -> String {
    format!("{}{ROLE_SUFFIX}", cx.physical_name(MAX_ROLE_BASE))
}

fn role_name_of_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn iam_tags(cx: &Cx, name: &str) -> Vec<aws_sdk_iam::types::Tag> {
    cx.tags()
        .into_iter()
        .chain([("Name".to_string(), name.to_string())])
        .filter_map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}

/// A role's tags; `None` when the role does not exist.
async fn role_tags(
    iam: &aws_sdk_iam::Client,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, KindError> {
    let mut out = BTreeMap::new();
    let mut items = iam
        .list_role_tags()
        .role_name(name)
        .into_paginator()
        .items()
        .send();
    while let Some(t) = items.next().await {
        match t {
            Ok(t) => {
                out.insert(t.key().to_string(), t.value().to_string());
            }
            Err(e) if e.code() == Some("NoSuchEntity") => return Ok(None),
            Err(e) => return Err(classify(&format!("ListRoleTags {name}"), e)),
        }
    }
    Ok(Some(out))
}

/// Decodes `%XX` escapes (IAM returns policy documents URL-encoded).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An inline policy of a role as JSON; `None` when it does not exist.
async fn inline_policy(
    iam: &aws_sdk_iam::Client,
    role: &str,
    policy: &str,
) -> Result<Option<serde_json::Value>, KindError> {
    match iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
    {
        Ok(out) => {
            let raw = out.policy_document();
            let text = if raw.trim_start().starts_with('{') {
                raw.to_string()
            } else {
                percent_decode(raw)
            };
            // Unreadable: treat as different, so it is rewritten.
            Ok(Some(
                serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
            ))
        }
        Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
        Err(e) => Err(classify(&format!("GetRolePolicy {role} {policy}"), e)),
    }
}

/// Finds or creates the execution role with its policies; returns its ARN.
async fn ensure_role(cx: &Cx, spec: &Spec) -> Result<String, KindError> {
    let iam = &cx.backends.aws.iam;
    let name = role_name(cx);
    let arn = match iam.get_role().role_name(&name).send().await {
        Ok(out) => {
            let have = role_tags(iam, &name).await?.unwrap_or_default();
            refuse_foreign(&format!("IAM role {name}"), &have, cx)?;
            let missing: Vec<_> = iam_tags(cx, &name)
                .into_iter()
                .filter(|t| have.get(t.key()).map(String::as_str) != Some(t.value()))
                .collect();
            if !missing.is_empty() {
                iam.tag_role()
                    .role_name(&name)
                    .set_tags(Some(missing))
                    .send()
                    .await
                    .map_err(|e| classify(&format!("TagRole {name}"), e))?;
            }
            out.role().map(|r| r.arn().to_string())
        }
        Err(e) if e.code() == Some("NoSuchEntity") => {
            match iam
                .create_role()
                .role_name(&name)
                .assume_role_policy_document(TRUST_POLICY)
                .description(format!(
                    "envctl {}/{}: Lambda execution role",
                    cx.tenant, cx.resource_id
                ))
                .set_tags(Some(iam_tags(cx, &name)))
                .send()
                .await
            {
                Ok(out) => out.role().map(|r| r.arn().to_string()),
                Err(e) if e.code() == Some("EntityAlreadyExists") => {
                    return Err(KindError::Transient(format!(
                        "CreateRole {name}: created meanwhile; adopting it"
                    )));
                }
                Err(e) => return Err(classify(&format!("CreateRole {name}"), e)),
            }
        }
        Err(e) => return Err(classify(&format!("GetRole {name}"), e)),
    }
    .ok_or_else(|| KindError::Permanent(format!("IAM role {name}: no ARN in answer")))?;

    let region = cx
        .backends
        .aws
        .lambda
        .config()
        .region()
        .map(|r| r.as_ref().to_string());
    let basic = format!(
        "arn:{}:iam::aws:policy/{BASIC_EXECUTION}",
        partition(region.as_deref())
    );
    let attached = iam
        .list_attached_role_policies()
        .role_name(&name)
        .send()
        .await
        .map_err(|e| classify(&format!("ListAttachedRolePolicies {name}"), e))?;
    if !attached
        .attached_policies()
        .iter()
        .any(|p| p.policy_arn() == Some(basic.as_str()))
    {
        iam.attach_role_policy()
            .role_name(&name)
            .policy_arn(&basic)
            .send()
            .await
            .map_err(|e| classify(&format!("AttachRolePolicy {name}"), e))?;
    }
    let current = inline_policy(iam, &name, SQS_POLICY).await?;
    match &spec.queue_arn {
        Some(queue) => {
            let policy = serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": [
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:GetQueueAttributes",
                        "sqs:ChangeMessageVisibility",
                    ],
                    "Resource": queue,
                }],
            });
            if current.as_ref() != Some(&policy) {
                iam.put_role_policy()
                    .role_name(&name)
                    .policy_name(SQS_POLICY)
                    .policy_document(policy.to_string())
                    .send()
                    .await
                    .map_err(|e| classify(&format!("PutRolePolicy {name}"), e))?;
            }
        }
        None if current.is_some() => match iam
            .delete_role_policy()
            .role_name(&name)
            .policy_name(SQS_POLICY)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("NoSuchEntity") => {}
            Err(e) => return Err(classify(&format!("DeleteRolePolicy {name}"), e)),
        },
        None => {}
    }
    Ok(arn)
}

/// Detaches and deletes every policy of the role, then the role.
async fn delete_role(iam: &aws_sdk_iam::Client, name: &str) -> Result<(), KindError> {
    let gone = |e: &str| e == "NoSuchEntity";
    let mut attached = Vec::new();
    let mut items = iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send();
    while let Some(p) = items.next().await {
        match p {
            Ok(p) => attached.extend(p.policy_arn().map(str::to_string)),
            Err(e) if e.code().is_some_and(gone) => return Ok(()),
            Err(e) => return Err(classify(&format!("ListAttachedRolePolicies {name}"), e)),
        }
    }
    for arn in attached {
        match iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(&arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.code().is_some_and(gone) => {}
            Err(e) => return Err(classify(&format!("DetachRolePolicy {name}"), e)),
        }
    }
    let mut inline = Vec::new();
    let mut items = iam
        .list_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send();
    while let Some(p) = items.next().await {
        match p {
            Ok(p) => inline.push(p),
            Err(e) if e.code().is_some_and(gone) => return Ok(()),
            Err(e) => return Err(classify(&format!("ListRolePolicies {name}"), e)),
        }
    }
    for policy in inline {
        match iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(&policy)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.code().is_some_and(gone) => {}
            Err(e) => return Err(classify(&format!("DeleteRolePolicy {name}"), e)),
        }
    }
    match iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code().is_some_and(gone) => Ok(()),
        // A policy attached meanwhile: the engine retries.
        Err(e) if e.code() == Some("DeleteConflict") => Err(KindError::Transient(format!(
            "DeleteRole {name}: policies are still attached"
        ))),
        Err(e) => Err(classify(&format!("DeleteRole {name}"), e)),
    }
}

// ------------------------------------------------------------ function ----

/// The function's configuration; `None` when it does not exist.
async fn function_config(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<Option<FunctionConfiguration>, KindError> {
    match lambda.get_function().function_name(name).send().await {
        Ok(f) => Ok(f.configuration().cloned()),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(classify(&format!("GetFunction {name}"), e)),
    }
}

/// Lambda refuses to create a function with a role it cannot assume yet;
/// right after CreateRole that is IAM propagation (seconds), not a mistake.
fn role_not_ready(message: Option<&str>) -> bool {
    message.is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        m.contains("cannot be assumed") || (m.contains("role") && m.contains("permission"))
    })
}

/// Waits while the function is Pending or an update is InProgress (a
/// settle between two calls of one apply: Lambda refuses an update while
/// another runs; terraform-provider-aws lambda/function.go waits for
/// `LastUpdateStatus` Successful the same way).
async fn wait_idle(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<FunctionConfiguration, KindError> {
    let idle = poll_until(UPDATE_WAIT, || async {
        let c = function_config(lambda, name)
            .await?
            .ok_or_else(|| KindError::Transient(format!("function {name} is not visible yet")))?;
        let busy = c.state() == Some(&State::Pending)
            || c.last_update_status() == Some(&LastUpdateStatus::InProgress);
        Ok((!busy).then_some(c))
    })
    .await?;
    idle.ok_or_else(|| {
        KindError::Transient(format!(
            "function {name} is still busy with an earlier change"
        ))
    })
}

fn update_error<E, R>(what: &str, e: aws_sdk_lambda::error::SdkError<E, R>) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + super::HttpStatus + 'static,
{
    match e.code() {
        // Another update is running: the engine retries.
        Some("ResourceConflictException") => {
            KindError::Transient(format!("{what}: an update is in progress"))
        }
        // IAM propagation: terraform-provider-aws (internal/service/lambda/
        // function.go, retryFunctionOp) retries exactly these
        // InvalidParameterValueException messages ("The role defined for the
        // function cannot be assumed by Lambda", "The provided execution role
        // does not have permissions") for its propagation timeout (2 min).
        Some("InvalidParameterValueException") if role_not_ready(e.message()) => {
            KindError::waiting(
                super::errors::describe(what, &e),
                "the new IAM role to become assumable by Lambda (IAM propagation)",
                Duration::from_secs(2 * 60),
            )
        }
        _ => classify(what, e),
    }
}

/// Whether the deployed configuration differs from `spec`.
fn config_differs(c: &FunctionConfiguration, spec: &Spec, role_arn: &str) -> bool {
    let env: HashMap<String, String> = c
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    c.runtime().map(|r| r.as_str()) != Some(spec.runtime.as_str())
        || c.handler() != Some(spec.handler.as_str())
        || c.memory_size() != Some(spec.memory_mb)
        || c.timeout() != Some(spec.timeout_seconds)
        || c.role() != Some(role_arn)
        || env != spec.environment
}

/// Creates the function, or brings the existing one to `spec`. Returns its
/// ARN and deployed CodeSha256.
async fn ensure_function(
    cx: &Cx,
    name: &str,
    spec: &Spec,
    role_arn: &str,
    zip: Vec<u8>,
) -> Result<(String, String), KindError> {
    let lambda = &cx.backends.aws.lambda;
    let sha = code_sha256(&zip);
    let our_tags: HashMap<String, String> = cx
        .tags()
        .into_iter()
        .chain([("Name".to_string(), name.to_string())])
        .collect();
    let environment = Environment::builder()
        .set_variables(Some(spec.environment.clone()))
        .build();
    let Some(existing) = function_config(lambda, name).await? else {
        let out = lambda
            .create_function()
            .function_name(name)
            .runtime(Runtime::from(spec.runtime.as_str()))
            .role(role_arn)
            .handler(&spec.handler)
            .memory_size(spec.memory_mb)
            .timeout(spec.timeout_seconds)
            .environment(environment)
            .description(format!("envctl {}/{}", cx.tenant, cx.resource_id))
            .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
            .set_tags(Some(our_tags))
            .send()
            .await
            .map_err(|e| match e.code() {
                Some("ResourceConflictException") => KindError::Transient(format!(
                    "CreateFunction {name}: created meanwhile; adopting it"
                )),
                _ => update_error(&format!("CreateFunction {name}"), e),
            })?;
        let arn = out.function_arn().unwrap_or_default().to_string();
        return Ok((arn, out.code_sha256().unwrap_or(&sha).to_string()));
    };
    let arn = existing.function_arn().unwrap_or_default().to_string();
    let have = lambda
        .list_tags()
        .resource(&arn)
        .send()
        .await
        .map_err(|e| classify(&format!("ListTags {name}"), e))?
        .tags()
        .cloned()
        .unwrap_or_default();
    let have: BTreeMap<String, String> = have.into_iter().collect();
    refuse_foreign(&format!("Lambda function {name}"), &have, cx)?;
    let missing: HashMap<String, String> = our_tags
        .into_iter()
        .filter(|(k, v)| have.get(k) != Some(v))
        .collect();
    if !missing.is_empty() {
        lambda
            .tag_resource()
            .resource(&arn)
            .set_tags(Some(missing))
            .send()
            .await
            .map_err(|e| classify(&format!("TagResource {name}"), e))?;
    }
    let mut current = existing;
    if config_differs(&current, spec, role_arn) {
        wait_idle(lambda, name).await?;
        lambda
            .update_function_configuration()
            .function_name(name)
            .runtime(Runtime::from(spec.runtime.as_str()))
            .role(role_arn)
            .handler(&spec.handler)
            .memory_size(spec.memory_mb)
            .timeout(spec.timeout_seconds)
            .environment(environment)
            .send()
            .await
            .map_err(|e| update_error(&format!("UpdateFunctionConfiguration {name}"), e))?;
        current = wait_idle(lambda, name).await?;
    }
    if current.code_sha256() != Some(sha.as_str()) {
        wait_idle(lambda, name).await?;
        let out = lambda
            .update_function_code()
            .function_name(name)
            .zip_file(Blob::new(zip))
            .send()
            .await
            .map_err(|e| update_error(&format!("UpdateFunctionCode {name}"), e))?;
        return Ok((arn, out.code_sha256().unwrap_or(&sha).to_string()));
    }
    Ok((arn, sha))
}

/// The function's event source mappings (id, source ARN).
async fn mappings(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<Vec<(String, String)>, KindError> {
    let mut out = Vec::new();
    let mut items = lambda
        .list_event_source_mappings()
        .function_name(name)
        .into_paginator()
        .items()
        .send();
    while let Some(m) = items.next().await {
        match m {
            Ok(m) => {
                if let Some(id) = m.uuid() {
                    out.push((
                        id.to_string(),
                        m.event_source_arn().unwrap_or_default().to_string(),
                    ));
                }
            }
            Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(Vec::new()),
            Err(e) => return Err(classify(&format!("ListEventSourceMappings {name}"), e)),
        }
    }
    Ok(out)
}

async fn delete_mapping(lambda: &aws_sdk_lambda::Client, id: &str) -> Result<(), KindError> {
    match lambda.delete_event_source_mapping().uuid(id).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
        // Still being created or updated: the engine retries.
        Err(e) if e.code() == Some("ResourceInUseException") => Err(KindError::Transient(format!(
            "DeleteEventSourceMapping {id}: the mapping is changing state"
        ))),
        Err(e) => Err(classify(&format!("DeleteEventSourceMapping {id}"), e)),
    }
}

/// Keeps exactly one mapping from `queue_arn` (none without it); returns its id.
async fn ensure_mapping(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    queue_arn: Option<&str>,
) -> Result<Option<String>, KindError> {
    let mut keep = None;
    for (id, source) in mappings(lambda, name).await? {
        if Some(source.as_str()) == queue_arn && keep.is_none() {
            keep = Some(id);
        } else {
            delete_mapping(lambda, &id).await?;
        }
    }
    let Some(queue) = queue_arn else {
        return Ok(None);
    };
    if keep.is_some() {
        return Ok(keep);
    }
    // No idempotency token exists for mappings, and moto (unlike AWS, which
    // answers ResourceConflictException) accepts duplicates: the lookup
    // above is what prevents a second one.
    let out = lambda
        .create_event_source_mapping()
        .function_name(name)
        .event_source_arn(queue)
        .batch_size(10)
        .send()
        .await
        .map_err(|e| match e.code() {
            Some("ResourceConflictException") => KindError::Transient(format!(
                "CreateEventSourceMapping {name}: created meanwhile; adopting it"
            )),
            _ => update_error(&format!("CreateEventSourceMapping {name}"), e),
        })?;
    Ok(out.uuid().map(str::to_string))
}

#[async_trait]
impl Kind for Function {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "lambda"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// ~10 s: CreateRole answers at once but IAM changes are eventually
    /// consistent (IAM user guide, troubleshooting: "Changes that I make are
    /// not always immediately visible"), during which CreateFunction is
    /// refused and retried; a zip function then goes Pending -> Active,
    /// usually within seconds (Lambda developer guide, "Lambda function
    /// states"). An estimate for the budget's default.
    fn expected(&self) -> Duration {
        Duration::from_secs(10)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(10 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: FunctionProps = parse_props(props)?;
        let spec = p.spec()?;
        // Package first: a bad source fails before anything is created.
        let zip = build_package(&spec.source).await?;
        let name = cx.physical_name(MAX_NAME);
        let role_arn = ensure_role(cx, &spec).await?;
        // Before the function exists, so that its first run logs into a
        // tagged group with a retention.
        let log_group = lambda_logs::ensure(cx, &name, spec.log_retention_days).await?;
        let (arn, sha) = ensure_function(cx, &name, &spec, &role_arn, zip).await?;
        let mapping =
            ensure_mapping(&cx.backends.aws.lambda, &name, spec.queue_arn.as_deref()).await?;
        let mut out = Outputs::new()
            .plain("arn", arn)
            .plain("name", name)
            .plain("role_arn", role_arn)
            .plain("log_group", log_group)
            .plain("code_sha256", sha);
        if let Some(id) = mapping {
            out = out.plain("event_source_mapping_id", id);
        }
        Ok(out)
    }

    /// Ready when the function is Active with its last update Successful
    /// (GetFunctionConfiguration) and its event source mapping, if any, is
    /// Enabled. A Failed state or update is permanent, with Lambda's reason.
    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let lambda = &cx.backends.aws.lambda;
        let name = out.require("name")?;
        let Some(c) = function_config(lambda, name).await? else {
            return Ok(Readiness::Pending(format!(
                "function {name} not visible yet"
            )));
        };
        match c.state() {
            Some(State::Active) => {}
            Some(State::Failed) => {
                return Err(KindError::Permanent(format!(
                    "function {name} failed: {}",
                    c.state_reason().unwrap_or("no reason given")
                )));
            }
            other => {
                return Ok(Readiness::Pending(format!(
                    "function {name} is {}",
                    other.map_or("in no state yet", |s| s.as_str())
                )));
            }
        }
        match c.last_update_status() {
            Some(LastUpdateStatus::Successful) => {}
            Some(LastUpdateStatus::Failed) => {
                return Err(KindError::Permanent(format!(
                    "function {name}: the last update failed: {}",
                    c.last_update_status_reason().unwrap_or("no reason given")
                )));
            }
            other => {
                return Ok(Readiness::Pending(format!(
                    "function {name}: update {}",
                    other.map_or("status unknown", |s| s.as_str())
                )));
            }
        }
        if let Some(id) = out.get("event_source_mapping_id") {
            let id = id.expose();
            match lambda.get_event_source_mapping().uuid(id).send().await {
                Ok(m) if m.state() == Some("Enabled") => {}
                Ok(m) => {
                    return Ok(Readiness::Pending(format!(
                        "event source mapping {id} is {}",
                        m.state().unwrap_or("in no state yet")
                    )));
                }
                Err(e) if e.code() == Some("ResourceNotFoundException") => {
                    return Ok(Readiness::Pending(format!(
                        "event source mapping {id} not visible yet"
                    )));
                }
                Err(e) => return Err(classify(&format!("GetEventSourceMapping {id}"), e)),
            }
        }
        Ok(Readiness::Ready)
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let lambda = &cx.backends.aws.lambda;
        let name = out.get("name").map(|v| v.expose().to_string());
        let role = out
            .get("role_arn")
            .map(|v| role_name_of_arn(v.expose()).to_string());
        if name.is_none() && role.is_none() {
            return Err(KindError::Permanent(
                "output 'name' (or 'role_arn') is missing".into(),
            ));
        }
        if let Some(name) = &name {
            for (id, _) in mappings(lambda, name).await? {
                delete_mapping(lambda, &id).await?;
            }
            match lambda.delete_function().function_name(name).send().await {
                Ok(_) => {}
                Err(e) if e.code() == Some("ResourceNotFoundException") => {}
                Err(e) if e.code() == Some("ResourceConflictException") => {
                    return Err(KindError::Transient(format!(
                        "DeleteFunction {name}: an update is in progress"
                    )));
                }
                Err(e) => return Err(classify(&format!("DeleteFunction {name}"), e)),
            }
            // After the function: nothing writes to it any more.
            lambda_logs::delete(&cx.backends.aws.logs, name).await?;
        }
        if let Some(role) = &role {
            delete_role(&cx.backends.aws.iam, role).await?;
        }
        Ok(())
    }

    /// Functions and roles are found by name prefix (`envctl-<tenant>-`;
    /// neither API filters by tag) and kept when tagged with this tenant and
    /// managed. A role without its function (a run that crashed in between)
    /// is found too.
    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let lambda = &cx.backends.aws.lambda;
        let iam = &cx.backends.aws.iam;
        let prefix = format!("envctl-{}-", cx.tenant.as_str());
        let mut by_resource: BTreeMap<String, Outputs> = BTreeMap::new();

        let mut functions = Vec::new();
        let mut items = lambda.list_functions().into_paginator().items().send();
        while let Some(f) = items.next().await {
            let f = f.map_err(|e| classify("ListFunctions", e))?;
            if let (Some(name), Some(arn)) = (f.function_name(), f.function_arn())
                && name.starts_with(&prefix)
            {
                functions.push((
                    name.to_string(),
                    arn.to_string(),
                    f.role().unwrap_or_default().to_string(),
                ));
            }
        }
        for (name, arn, role) in functions {
            let t: BTreeMap<String, String> = match lambda.list_tags().resource(&arn).send().await {
                Ok(o) => o.tags().cloned().unwrap_or_default().into_iter().collect(),
                Err(e) if e.code() == Some("ResourceNotFoundException") => continue,
                Err(e) => return Err(classify(&format!("ListTags {name}"), e)),
            };
            let Some(resource_id) = t
                .get(tags::RESOURCE)
                .filter(|_| managed_by(&t, cx.tenant.as_str()))
            else {
                continue;
            };
            let mut out = Outputs::new().plain("name", name).plain("arn", arn);
            if !role.is_empty() {
                out = out.plain("role_arn", role);
            }
            by_resource.insert(resource_id.clone(), out);
        }

        // Log groups whose function is gone (a delete that stopped between
        // the two): delete() takes the function name and finds no function.
        for (function, resource_id) in
            lambda_logs::find(&cx.backends.aws.logs, &prefix, cx.tenant.as_str()).await?
        {
            by_resource
                .entry(resource_id)
                .or_insert_with(|| Outputs::new().plain("name", function));
        }

        let mut roles = Vec::new();
        let mut items = iam.list_roles().into_paginator().items().send();
        while let Some(r) = items.next().await {
            let r = r.map_err(|e| classify("ListRoles", e))?;
            if r.role_name().starts_with(&prefix) && r.role_name().ends_with(ROLE_SUFFIX) {
                roles.push((r.role_name().to_string(), r.arn().to_string()));
            }
        }
        let mut seen_roles: BTreeSet<String> = by_resource
            .values()
            .filter_map(|o| o.get("role_arn").map(|r| r.expose().to_string()))
            .collect();
        for (name, arn) in roles {
            if seen_roles.contains(&arn) {
                continue;
            }
            let Some(t) = role_tags(iam, &name).await? else {
                continue;
            };
            let Some(resource_id) = t
                .get(tags::RESOURCE)
                .filter(|_| managed_by(&t, cx.tenant.as_str()))
            else {
                continue;
            };
            seen_roles.insert(arn.clone());
            by_resource
                .entry(resource_id.clone())
                .and_modify(|o| *o = o.clone().plain("role_arn", arn.clone()))
                .or_insert_with(|| Outputs::new().plain("role_arn", arn));
        }
        Ok(by_resource
            .into_iter()
            .map(|(resource_id, outputs)| Found {
                resource_id,
                outputs,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_deterministic_and_skip_caches() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("index.py"),
            "def handler(e, c):\n    return 1\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/util.py"), "X = 1\n").unwrap();
        let first = package(dir.path()).unwrap();
        // Caches, hidden files and new timestamps change nothing.
        std::fs::create_dir(dir.path().join("__pycache__")).unwrap();
        std::fs::write(dir.path().join("__pycache__/index.cpython-312.pyc"), "junk").unwrap();
        std::fs::write(dir.path().join(".DS_Store"), "junk").unwrap();
        std::fs::write(dir.path().join("lib/util.py"), "X = 1\n").unwrap();
        let second = package(dir.path()).unwrap();
        assert_eq!(code_sha256(&first), code_sha256(&second));
        // A changed file changes the package.
        std::fs::write(dir.path().join("lib/util.py"), "X = 2\n").unwrap();
        assert_ne!(
            code_sha256(&first),
            code_sha256(&package(dir.path()).unwrap())
        );
        // Entries are sorted by path.
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(first)).unwrap();
        let names: Vec<String> = (0..archive.len())
            .map(|i| archive.by_index(i).unwrap().name().unwrap().to_string())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(sorted, ["index.py", "lib/util.py"]);
    }

    #[test]
    fn a_role_lambda_cannot_assume_yet_is_waited_for_two_minutes() {
        use aws_sdk_lambda::operation::create_function::CreateFunctionError;
        use aws_smithy_runtime_api::http::{Response, StatusCode};
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;
        let err = |message: &str| {
            let meta = ErrorMetadata::builder()
                .code("InvalidParameterValueException")
                .message(message)
                .build();
            aws_sdk_lambda::error::SdkError::service_error(
                CreateFunctionError::generic(meta),
                Response::new(StatusCode::try_from(400).unwrap(), SdkBody::from("")),
            )
        };
        let e = update_error(
            "CreateFunction f",
            err("The role defined for the function cannot be assumed by Lambda."),
        );
        let KindError::Waiting {
            within,
            waiting_for,
            message,
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!(*within, Duration::from_secs(120));
        assert!(waiting_for.contains("IAM role"), "{waiting_for}");
        assert!(message.contains("cannot be assumed"), "{message}");
        // Any other invalid value is the user's to fix.
        assert!(matches!(
            update_error("CreateFunction f", err("Value 'python2' is not a runtime")),
            KindError::Permanent(_)
        ));
    }

    #[test]
    fn check_applies_the_rules_of_create_function_to_literal_values() {
        let check = |v: serde_json::Value| {
            let serde_json::Value::Object(m) = v else {
                unreachable!()
            };
            Function.check(&m)
        };
        assert!(check(serde_json::json!({"source": "x", "runtime": "nodejs20.x"})).is_empty());
        // References are checked once resolved.
        assert!(
            check(serde_json::json!({"source": "${a.b}", "memory_mb": "${c.d}", "queue_arn": "${q.arn}"}))
                .is_empty()
        );
        for (props, hint) in [
            (
                serde_json::json!({"source": "x", "runtime": "python9"}),
                "runtime",
            ),
            (
                serde_json::json!({"source": "x", "memory_mb": 20000}),
                "memory_mb",
            ),
            (
                serde_json::json!({"source": "x", "timeout_seconds": 0}),
                "timeout_seconds",
            ),
            (
                serde_json::json!({"source": "x", "environment": {"AWS_REGION": "x"}}),
                "reserved",
            ),
            (
                serde_json::json!({"source": "x", "environment": {"BIG": "v".repeat(4100)}}),
                "4096",
            ),
        ] {
            let issues = check(props.clone());
            assert_eq!(issues.len(), 1, "{props}: {issues:?}");
            assert!(issues[0].sentence().contains(hint), "{props}: {issues:?}");
        }
    }

    #[test]
    fn wrongly_typed_and_out_of_range_literals_name_the_field() {
        let paths = |v: serde_json::Value| {
            let serde_json::Value::Object(m) = v else {
                unreachable!()
            };
            Function
                .check(&m)
                .into_iter()
                .map(|i| i.path.join("."))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            paths(serde_json::json!({"source": "x", "memory_mb": [1]})),
            ["memory_mb"]
        );
        assert_eq!(
            paths(serde_json::json!({"source": "x", "memory_mb": "lots"})),
            ["memory_mb"]
        );
        assert_eq!(
            paths(serde_json::json!({"source": "x", "environment": {"A": [1]}})),
            ["environment.A"]
        );
        assert_eq!(paths(serde_json::json!({"source": 5})), ["source"]);
        assert_eq!(
            paths(serde_json::json!({"source": "x", "log_retention_days": 13})),
            ["log_retention_days"]
        );
        assert_eq!(
            paths(serde_json::json!({"source": "x", "environment": {"1BAD": "v"}})),
            ["environment.1BAD"]
        );
        assert!(paths(serde_json::json!({"source": "x", "memory_mb": "256", "log_retention_days": "30", "environment": {"N": 1, "B": true}})).is_empty());
    }

    #[test]
    fn policy_documents_are_url_decoded() {
        assert_eq!(
            percent_decode("%7B%22Version%22%3A%20%222012-10-17%22%7D"),
            r#"{"Version": "2012-10-17"}"#
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn bad_properties_name_the_fix() {
        let spec = |v: serde_json::Value| {
            let props = match v {
                serde_json::Value::Object(m) => m,
                _ => unreachable!(),
            };
            parse_props::<FunctionProps>(&props).and_then(FunctionProps::spec)
        };
        for (props, hint) in [
            (
                serde_json::json!({"source": "x", "memory_mb": 64}),
                "128 to 10240",
            ),
            (
                serde_json::json!({"source": "x", "timeout_seconds": 901}),
                "1 to 900",
            ),
            (
                serde_json::json!({"source": "x", "environment": {"1BAD": "v"}}),
                "1BAD",
            ),
            (
                serde_json::json!({"source": "x", "queue_arn": "jobs"}),
                "queue_arn",
            ),
            (serde_json::json!({"source": "x", "memory": 256}), "memory"),
            (serde_json::json!({"handler": "index.handler"}), "source"),
        ] {
            let err = spec(props.clone()).unwrap_err();
            assert!(!err.is_transient());
            assert!(err.to_string().contains(hint), "{props}: {err}");
        }
        // Secret-looking values never appear in errors.
        let err = spec(serde_json::json!({"source": "x", "environment": {"TOKEN": ["s3cr3t"]}}))
            .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }
}
