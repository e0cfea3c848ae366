//! The properties of `aws.lambda.function`: their schema, the
//! CreateFunction rules [`KindProps::check`] adds, [`Spec`] (what apply
//! makes of them) and the outputs.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::LazyLock;

use aws_sdk_lambda::types::Runtime;
use schemars::JsonSchema;
use serde::Deserialize;

use super::logs;
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{KindError, OutputSpec, PropIssue};

const DEFAULT_HANDLER: &str = "index.handler";
const DEFAULT_RUNTIME: &str = "python3.12";

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

/// The kind's name in stacks.
pub(super) const NAME: &str = "aws.lambda.function";

pub(super) static SCHEMA: LazyLock<PropSchema> =
    LazyLock::new(|| PropSchema::of::<FunctionProps>(NAME));

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
pub(super) struct FunctionProps {
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
pub(super) struct Spec {
    pub(super) source: PathBuf,
    pub(super) handler: String,
    pub(super) runtime: String,
    pub(super) memory_mb: i32,
    pub(super) timeout_seconds: i32,
    pub(super) environment: HashMap<String, String>,
    pub(super) queue_arn: Option<String>,
    pub(super) log_retention_days: i32,
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
            Some(Ok(Some(days))) if !logs::RETENTION_DAYS.iter().any(|d| i64::from(*d) == days) => {
                issues.push(PropIssue::new(
                    &["log_retention_days"],
                    format!(
                        "is {days}; CloudWatch Logs accepts {:?}",
                        logs::RETENTION_DAYS
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
    pub(super) fn spec(self) -> Result<Spec, KindError> {
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
                logs::DEFAULT_RETENTION_DAYS as i64,
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

pub(super) static OUTPUTS: &[OutputSpec] = &[
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

#[cfg(test)]
mod tests {
    use super::super::Function;
    use super::*;
    use crate::kinds::{Kind, parse_props};

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
