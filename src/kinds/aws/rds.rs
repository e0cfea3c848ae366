//! The `aws.rds.instance` kind: an encrypted RDS DB instance per tenant
//! resource, in its own DB subnet group, optionally with its own DB
//! parameter group. The master password comes in as a property (a reference
//! to a `secret.password` resource) and never goes anywhere but the RDS API:
//! not into outputs, errors or tags. What the instance keeps of it is a
//! salted SHA-256 fingerprint in a tag, so a rerun can tell whether the
//! password changed (and then sets the new one) without ever reading it.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::error::ProvideErrorMetadata;
use aws_sdk_rds::types::{ApplyMethod, DbInstance, Parameter};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};

use super::classify;
use super::owner::{foreign_owner, refuse_foreign, swept_resource};
use super::props::{has_ref, id_issue, non_empty, refuse, string_list, string_list_schema};
use super::tags::{sdk_tags, tag_map};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};
use crate::secret::{MASK, SecretString};
use crate::tenant::tags::KEPT as KEPT_TAG;

/// DB instance identifiers are at most 63 characters.
const MAX_NAME: usize = 63;
/// Tag holding the salted SHA-256 fingerprint of the master password.
pub const PASSWORD_TAG: &str = "envctl:password-sha256";
/// Tag holding whether deleting takes a final snapshot (for sweeps).
pub const FINAL_SNAPSHOT_TAG: &str = "envctl:final-snapshot";
/// Value of the `envctl:kept` tag on a final snapshot: left on purpose by a
/// destroy (data safety), not swept, not an orphan; deleted by hand.
pub const KEPT_FINAL_SNAPSHOT: &str = "final-snapshot";
/// How long a destroy waits, across attempts, for the instance to be gone
/// before its subnet and parameter groups can be deleted: terraform's
/// aws_db_instance allows 60 minutes to delete by default; a single-AZ
/// instance usually takes 5-10 minutes, a final snapshot adds its copy time.
const DELETE_WITHIN: Duration = Duration::from_secs(60 * 60);
/// ModifyDBParameterGroup takes at most 20 parameters per call.
const PARAMETER_BATCH: usize = 20;
/// How long the engine retries `apply` while RDS has not assigned the new
/// instance its endpoint (a few minutes into creation).
const ENDPOINT_WITHIN: Duration = Duration::from_secs(30 * 60);
/// States a DB instance does not leave without someone's help (the SDK's
/// `db_instance_available` waiter fails on the first five as well).
const FAILED_STATES: &[&str] = &[
    "deleted",
    "deleting",
    "failed",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "incompatible-option-group",
    "inaccessible-encryption-credentials",
];

pub struct Instance;

/// An encrypted RDS DB instance in its own DB subnet group, optionally with
/// its own DB parameter group; the master password comes from a reference.
///
/// The instance identifier is envctl's, `envctl-<tenant>-<id>` (1-63, a
/// letter first, letters, digits and single hyphens, not ending in one:
/// `DBInstanceIdentifier`), checked at apply where the tenant is known; its
/// subnet group and parameter group have the same name. The password never
/// appears in an output, a tag or a message: the instance keeps a salted
/// SHA-256 fingerprint of it in a tag. Rules: RDS API reference,
/// CreateDBInstance (`DBInstanceClass`, `AllocatedStorage`, `DBName`,
/// `MasterUsername`, `MasterUserPassword`), CreateDBSubnetGroup (subnets in
/// at least two Availability Zones) and CreateDBParameterGroup
/// (`DBParameterGroupFamily`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RdsProps {
    /// The engine: `postgres` (default), `mysql`, `mariadb`, … (as RDS
    /// names it).
    #[serde(default = "default_engine")]
    engine: String,
    /// The engine version, e.g. `16.4`; absent: RDS's default. Used at
    /// creation only (envctl does not upgrade); required with `parameters`.
    #[serde(default)]
    engine_version: Option<String>,
    /// The DB instance class, `db.<family>.<size>`; default `db.t3.micro`.
    /// Changed in place (applied immediately).
    #[serde(default = "default_instance_class")]
    instance_class: String,
    /// Storage in GiB, 20 (default) to 65536 (16384 for SQL Server); can
    /// grow in place, never shrink.
    #[serde(default = "default_allocated_storage")]
    #[schemars(range(min = 20, max = 65_536))]
    allocated_storage: u32,
    /// Name of the database created with the instance: a letter, then
    /// letters, digits and `_`; default `app`.
    #[serde(default = "default_database")]
    #[schemars(length(min = 1, max = 63))]
    database: String,
    /// The master user name: a letter, then letters, digits and `_` (at most
    /// 16 for MySQL and MariaDB, 63 for PostgreSQL); default `app_admin`.
    #[serde(default = "default_username")]
    #[schemars(length(min = 1, max = 128))]
    username: String,
    /// The master password, from a `secret.password` resource (for example
    /// `${db-password.value}`); never an output of this kind. 8 to 128
    /// printable ASCII characters (41 for MySQL and MariaDB), no `/`, `"`,
    /// `@` or space. A changed password is set on the next apply.
    #[serde(deserialize_with = "secret")]
    #[schemars(with = "String", length(min = 8, max = 128))]
    password: SecretString,
    /// Subnets of the DB subnet group, in at least two Availability Zones.
    /// A list or a comma-separated string, e.g. `${network.subnet_ids}`.
    #[serde(deserialize_with = "string_list")]
    #[schemars(schema_with = "string_list_schema")]
    subnet_ids: Vec<String>,
    /// VPC security groups (a list or a comma-separated string), e.g.
    /// `[${db-sg.group_id}]`; absent: the VPC's default group.
    #[serde(default, deserialize_with = "string_list")]
    #[schemars(schema_with = "string_list_schema")]
    security_group_ids: Vec<String>,
    /// DB parameters by name, e.g. `{work_mem: 4096, log_connections: true}`
    /// (strings, numbers or booleans, booleans sent as 1/0): makes a DB
    /// parameter group of the engine's family (postgres, mysql, mariadb;
    /// needs `engine_version`); changes apply at the next reboot. Absent:
    /// the engine's default group.
    #[serde(default)]
    #[schemars(schema_with = "parameters_schema")]
    parameters: Option<BTreeMap<String, serde_json::Value>>,
    /// Deleting keeps a snapshot `<identifier>-final-<unix time>`; default
    /// false.
    #[serde(default)]
    final_snapshot: bool,
    /// A standby in a second Availability Zone; default false.
    #[serde(default)]
    multi_az: bool,
    /// Refuse deletion (destroy fails until it is set back to false);
    /// default false.
    #[serde(default)]
    deletion_protection: bool,
}

/// The schema of `parameters`: a mapping of names to strings, numbers or
/// booleans.
fn parameters_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["object", "null"],
        "additionalProperties": { "type": ["string", "number", "boolean"] }
    })
}

impl KindProps for RdsProps {
    /// CreateDBInstance's rules a schema cannot say (see the struct): the
    /// class's form, storage and user name per engine, names' and the
    /// password's characters, subnets in two zones, ids, the parameter
    /// group family. References are skipped; the password never shows
    /// (every message is masked with it).
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        let mut bad = |path: &[&str], m: String| issues.push(PropIssue::new(path, m));
        let engine = self.engine.trim().to_ascii_lowercase();
        if engine.is_empty() {
            bad(
                &["engine"],
                "is empty; give an engine, e.g. postgres".into(),
            );
        }
        let class = self.instance_class.trim();
        if !is_ref(class) && !valid_class(class) {
            bad(
                &["instance_class"],
                format!("'{class}' is not a DB instance class (like db.t3.micro or db.m7g.large)"),
            );
        }
        let max = max_storage(&engine);
        if self.allocated_storage > max {
            bad(
                &["allocated_storage"],
                format!(
                    "is {}; {engine} takes 20 to {max} (GiB)",
                    self.allocated_storage
                ),
            );
        }
        let name_ok = |s: &str, max: usize| {
            s.len() <= max
                && s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if !is_ref(&self.database) && !name_ok(&self.database, 63) {
            bad(
                &["database"],
                "must start with a letter and use letters, digits and '_' (at most 63)".into(),
            );
        }
        let user_max = max_username(&engine);
        if !is_ref(&self.username) && !name_ok(&self.username, user_max) {
            bad(
                &["username"],
                format!(
                    "must start with a letter and use letters, digits and '_' (at most \
                     {user_max} for {engine})"
                ),
            );
        }
        let password = self.password.expose();
        if !is_ref(password) {
            if let Err(e) = check_password(&engine, password) {
                bad(&["password"], e);
            }
            // database and username become plain outputs: a reference that
            // hands them the password by mistake would publish it.
            for (prop, value) in [("database", &self.database), ("username", &self.username)] {
                if value == password {
                    bad(
                        &[prop],
                        "has the same value as password; it would be published as a plain \
                         output. Check the references of both"
                            .into(),
                    );
                }
            }
        }
        if self.subnet_ids.len() < 2 && !has_ref(&self.subnet_ids) {
            bad(
                &["subnet_ids"],
                "needs subnets in at least two Availability Zones (a DB subnet group requires \
                 it), e.g. ${network.subnet_ids}"
                    .into(),
            );
        }
        issues.extend(id_issue("subnet_ids", &self.subnet_ids, "subnet-"));
        issues.extend(id_issue(
            "security_group_ids",
            &self.security_group_ids,
            "sg-",
        ));
        if let Some(map) = &self.parameters {
            match non_empty(self.engine_version.clone()) {
                None => issues.push(PropIssue::new(
                    &["parameters"],
                    "needs engine_version (it picks the parameter group family): add \
                     `engine_version: ...`",
                )),
                Some(version) if !is_ref(&version) => {
                    if let Err(e) = parameter_family(&engine, &version) {
                        issues.push(super::ec2::rules::issue_of(e));
                    }
                }
                Some(_) => {}
            }
            for name in map.keys().filter(|n| !valid_parameter_name(n)) {
                issues.push(PropIssue::new(
                    &["parameters", name],
                    "is not a parameter name (letters, digits, '_', '.' and '-')",
                ));
            }
        }
        issues
            .into_iter()
            .map(|i| PropIssue {
                message: mask(&i.message, password),
                path: i.path,
            })
            .collect()
    }
}

/// A DB instance class: `db.<family>.<size>` of a-z, 0-9 and `-`.
fn valid_class(class: &str) -> bool {
    class
        .strip_prefix("db.")
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(family, size)| {
            let ok = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            };
            ok(family) && ok(size)
        })
}

fn valid_parameter_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// The kind's name in stacks.
const NAME: &str = "aws.rds.instance";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<RdsProps>(NAME));

fn default_engine() -> String {
    "postgres".into()
}
fn default_instance_class() -> String {
    "db.t3.micro".into()
}
fn default_allocated_storage() -> u32 {
    20
}
fn default_database() -> String {
    "app".into()
}
fn default_username() -> String {
    "app_admin".into()
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::new)
}

static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "host",
        secret: false,
        doc: "the endpoint's DNS name",
    },
    OutputSpec {
        name: "port",
        secret: false,
        doc: "the endpoint's port (5432 for postgres, 3306 for mysql)",
    },
    OutputSpec {
        name: "database",
        secret: false,
        doc: "the database name",
    },
    OutputSpec {
        name: "username",
        secret: false,
        doc: "the master user name (the password is the secret.password's value)",
    },
    OutputSpec {
        name: "arn",
        secret: false,
        doc: "the DB instance ARN",
    },
    OutputSpec {
        name: "identifier",
        secret: false,
        doc: "the DB instance identifier, envctl-<tenant>-<id>; also the name of its DB \
              subnet group and parameter group",
    },
    OutputSpec {
        name: "final_snapshot",
        secret: false,
        doc: "\"true\" or \"false\": whether delete keeps a final snapshot",
    },
];

// ------------------------------------------------------------- props ----

struct Wanted {
    identifier: String,
    engine: String,
    engine_version: Option<String>,
    instance_class: String,
    allocated_storage: i32,
    database: String,
    username: String,
    password: SecretString,
    subnets: Vec<String>,
    security_groups: Vec<String>,
    /// Family and parameters of our parameter group, if any.
    parameters: Option<(String, BTreeMap<String, String>)>,
    final_snapshot: bool,
    multi_az: bool,
    deletion_protection: bool,
}

fn bad(m: impl Into<String>) -> KindError {
    KindError::Permanent(format!("properties: {}", m.into()))
}

/// RDS identifiers (instances, parameter groups): a letter first, then
/// letters, digits and single hyphens, not ending in a hyphen.
fn valid_identifier(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.contains("--")
        && !s.ends_with('-')
}

/// The DB parameter group family of an engine version, e.g. postgres 16.4 →
/// postgres16, postgres 9.6.2 → postgres9.6, mysql 8.0.35 → mysql8.0.
fn parameter_family(engine: &str, version: &str) -> Result<String, KindError> {
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !parts.first().is_some_and(|p| numeric(p)) {
        return Err(bad(format!(
            "engine_version '{version}' is not a version number"
        )));
    }
    let major = parts[0];
    let two = || {
        parts
            .get(1)
            .filter(|p| numeric(p))
            .map(|minor| format!("{major}.{minor}"))
            .ok_or_else(|| {
                bad(format!(
                    "engine_version '{version}': {engine} needs major.minor (e.g. 8.0) to pick \
                     the parameter group family"
                ))
            })
    };
    match engine {
        "postgres" => {
            let n: u32 = major.parse().unwrap_or(0);
            if n >= 10 {
                Ok(format!("postgres{major}"))
            } else {
                Ok(format!("postgres{}", two()?))
            }
        }
        "mysql" => Ok(format!("mysql{}", two()?)),
        "mariadb" => Ok(format!("mariadb{}", two()?)),
        other => Err(bad(format!(
            "parameters are supported for engines postgres, mysql and mariadb, not {other}"
        ))),
    }
}

fn parameter_value(name: &str, v: &serde_json::Value) -> Result<String, KindError> {
    match v {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        // RDS takes 1/0 for boolean parameters of every engine.
        serde_json::Value::Bool(b) => Ok(if *b { "1" } else { "0" }.to_string()),
        _ => Err(bad(format!(
            "parameters.{name} must be a string, number or boolean"
        ))),
    }
}

/// Printable ASCII except `/`, `"`, `@` and space, 8 characters or more, at
/// most 41 for MySQL and MariaDB, 30 for Oracle, 128 otherwise. The message
/// never shows the password.
fn check_password(engine: &str, password: &str) -> Result<(), String> {
    let max = match engine {
        "mysql" | "mariadb" => 41,
        e if e.starts_with("oracle") => 30,
        _ => 128,
    };
    let n = password.chars().count();
    if !(8..=max).contains(&n) {
        return Err(format!(
            "has {n} characters; {engine} takes 8 to {max} (use a secret.password resource \
             with a length in that range)"
        ));
    }
    if password
        .chars()
        .any(|c| !c.is_ascii_graphic() || matches!(c, '/' | '"' | '@'))
    {
        return Err(
            "contains a character RDS refuses ('/', '\"', '@', a space or a non-printable or \
             non-ASCII character); a secret.password resource never does"
                .into(),
        );
    }
    Ok(())
}

fn wanted(cx: &Cx, props: &Props) -> Result<Wanted, KindError> {
    let p: RdsProps = parse_props(props)?;
    let identifier = cx.physical_name(MAX_NAME);
    if !valid_identifier(&identifier) {
        return Err(KindError::Permanent(format!(
            "DB instance identifier '{identifier}' (from tenant '{}' and resource id '{}') is \
             not valid: RDS takes letters, digits and single hyphens, not ending in one; rename \
             the resource",
            cx.tenant, cx.resource_id
        )));
    }
    refuse(SCHEMA.issues(props))?;
    wanted_from(identifier, p)
}

/// The largest AllocatedStorage of an engine, in GiB (RDS API reference,
/// CreateDBInstance `AllocatedStorage`: 20 to 65536 for MySQL, MariaDB,
/// PostgreSQL and Oracle on General Purpose / Provisioned IOPS storage, 20
/// to 16384 for SQL Server).
fn max_storage(engine: &str) -> u32 {
    if engine.starts_with("sqlserver") {
        16_384
    } else {
        65_536
    }
}

/// The longest MasterUsername of an engine (RDS API reference,
/// CreateDBInstance `MasterUsername`: MySQL and MariaDB 1 to 16, Oracle 1
/// to 30, PostgreSQL 1 to 63, SQL Server 1 to 128; a letter first, then
/// letters, digits and `_`).
fn max_username(engine: &str) -> usize {
    match engine {
        "postgres" => 63,
        e if e.starts_with("oracle") => 30,
        e if e.starts_with("sqlserver") => 128,
        _ => 16,
    }
}

/// What to create, from properties that passed [`RdsProps::check`].
fn wanted_from(identifier: String, p: RdsProps) -> Result<Wanted, KindError> {
    let engine = p.engine.trim().to_ascii_lowercase();
    let engine_version = non_empty(p.engine_version);
    let parameters = match p.parameters {
        None => None,
        Some(map) => {
            let Some(version) = &engine_version else {
                return Err(bad(
                    "parameters needs engine_version (it picks the parameter group family)",
                ));
            };
            let family = parameter_family(&engine, version)?;
            let mut values = BTreeMap::new();
            for (name, v) in &map {
                values.insert(name.clone(), parameter_value(name, v)?);
            }
            Some((family, values))
        }
    };
    Ok(Wanted {
        identifier,
        engine,
        engine_version,
        instance_class: p.instance_class.trim().to_string(),
        allocated_storage: p.allocated_storage as i32,
        database: p.database,
        username: p.username,
        password: p.password,
        subnets: p.subnet_ids,
        security_groups: p.security_group_ids,
        parameters,
        final_snapshot: p.final_snapshot,
        multi_az: p.multi_az,
        deletion_protection: p.deletion_protection,
    })
}

/// The clear password of the raw properties, however it was given, to mask
/// it in any error `apply` returns (even one about another property that
/// was given the same value by mistake).
fn raw_password(props: &Props) -> Option<String> {
    match props.get("password")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// `text` with `secret` masked, as written and as escaped in quotes.
fn mask(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    let escaped = format!("{secret:?}");
    let escaped = escaped.trim_matches('"');
    text.replace(secret, MASK).replace(escaped, MASK)
}

/// Masks `secret` in an error message, as written and as escaped in quotes.
fn redact(e: KindError, secret: Option<&str>) -> KindError {
    let Some(s) = secret.filter(|s| !s.is_empty()) else {
        return e;
    };
    let clean = |m: String| mask(&m, s);
    match e {
        KindError::Transient(m) => KindError::Transient(clean(m)),
        KindError::Permanent(m) => KindError::Permanent(clean(m)),
        KindError::Unconfigured(m) => KindError::Unconfigured(clean(m)),
        KindError::Waiting {
            message,
            waiting_for,
            within,
        } => KindError::Waiting {
            message: clean(message),
            waiting_for,
            within,
        },
    }
}

/// The fingerprint kept in [`PASSWORD_TAG`]: SHA-256 over a fixed prefix,
/// the identifier (a salt: equal passwords of two instances differ) and the
/// password. One-way; the passwords are random (secret.password: 16 to 128
/// characters), so it cannot be searched back.
fn fingerprint(identifier: &str, password: &SecretString) -> String {
    let mut h = Sha256::new();
    h.update(b"envctl rds master password\0");
    h.update(identifier.as_bytes());
    h.update(b"\0");
    h.update(password.expose().as_bytes());
    hex::encode(h.finalize())
}

// -------------------------------------------------------------- tags ----

async fn tags_of(rds: &Client, arn: &str) -> Result<BTreeMap<String, String>, KindError> {
    let out = rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| classify(&format!("ListTagsForResource {arn}"), e))?;
    Ok(tag_map(out.tag_list()))
}

/// Refuses a resource of another tenant; adds or updates `wanted` tags.
async fn converge_tags(
    rds: &Client,
    cx: &Cx,
    what: &str,
    name: &str,
    arn: &str,
    have: &BTreeMap<String, String>,
    wanted: &[(String, String)],
) -> Result<(), KindError> {
    refuse_foreign(&format!("{what} {name}"), have, cx)?;
    let missing: Vec<(String, String)> = wanted
        .iter()
        .filter(|(k, v)| have.get(k) != Some(v))
        .cloned()
        .collect();
    if !missing.is_empty() {
        rds.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(sdk_tags(missing)?))
            .send()
            .await
            .map_err(|e| classify(&format!("AddTagsToResource {name}"), e))?;
    }
    Ok(())
}

// ------------------------------------------------------ subnet group ----

async fn ensure_subnet_group(rds: &Client, cx: &Cx, w: &Wanted) -> Result<(), KindError> {
    let name = &w.identifier;
    let found = match rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
    {
        Ok(out) => out.db_subnet_groups().first().cloned(),
        Err(e) if e.code() == Some("DBSubnetGroupNotFoundFault") => None,
        Err(e) => return Err(classify(&format!("DescribeDBSubnetGroups {name}"), e)),
    };
    let group = match found {
        Some(g) => g,
        None => {
            let created = rds
                .create_db_subnet_group()
                .db_subnet_group_name(name)
                .db_subnet_group_description(format!("envctl {}/{}", cx.tenant, cx.resource_id))
                .set_subnet_ids(Some(w.subnets.clone()))
                .set_tags(Some(sdk_tags(cx.tags())?))
                .send()
                .await;
            match created {
                Ok(out) => out.db_subnet_group().cloned().ok_or_else(|| {
                    KindError::Permanent(format!(
                        "CreateDBSubnetGroup {name}: no subnet group in the answer"
                    ))
                })?,
                Err(e) if e.code() == Some("DBSubnetGroupAlreadyExists") => {
                    return Err(KindError::Transient(format!(
                        "CreateDBSubnetGroup {name}: it was created meanwhile; adopting it next"
                    )));
                }
                Err(e) => return Err(classify(&format!("CreateDBSubnetGroup {name}"), e)),
            }
        }
    };
    if let Some(arn) = group.db_subnet_group_arn() {
        let have = tags_of(rds, arn).await?;
        converge_tags(rds, cx, "DB subnet group", name, arn, &have, &cx.tags()).await?;
    }
    let mut have: Vec<&str> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier())
        .collect();
    let mut want: Vec<&str> = w.subnets.iter().map(String::as_str).collect();
    have.sort_unstable();
    want.sort_unstable();
    if have != want {
        rds.modify_db_subnet_group()
            .db_subnet_group_name(name)
            .set_subnet_ids(Some(w.subnets.clone()))
            .send()
            .await
            .map_err(|e| classify(&format!("ModifyDBSubnetGroup {name}"), e))?;
    }
    Ok(())
}

// --------------------------------------------------- parameter group ----

async fn ensure_parameter_group(
    rds: &Client,
    cx: &Cx,
    name: &str,
    family: &str,
    values: &BTreeMap<String, String>,
) -> Result<(), KindError> {
    let found = match rds
        .describe_db_parameter_groups()
        .db_parameter_group_name(name)
        .send()
        .await
    {
        // moto answers an empty list where AWS answers "not found".
        Ok(out) => out.db_parameter_groups().first().cloned(),
        Err(e) if e.code() == Some("DBParameterGroupNotFound") => None,
        Err(e) => return Err(classify(&format!("DescribeDBParameterGroups {name}"), e)),
    };
    let group = match found {
        Some(g) => g,
        None => {
            let created = rds
                .create_db_parameter_group()
                .db_parameter_group_name(name)
                .db_parameter_group_family(family)
                .description(format!("envctl {}/{}", cx.tenant, cx.resource_id))
                .set_tags(Some(sdk_tags(cx.tags())?))
                .send()
                .await;
            match created {
                Ok(out) => out.db_parameter_group().cloned().ok_or_else(|| {
                    KindError::Permanent(format!(
                        "CreateDBParameterGroup {name}: no parameter group in the answer"
                    ))
                })?,
                Err(e) if e.code() == Some("DBParameterGroupAlreadyExists") => {
                    return Err(KindError::Transient(format!(
                        "CreateDBParameterGroup {name}: it was created meanwhile; adopting it \
                         next"
                    )));
                }
                Err(e) => return Err(classify(&format!("CreateDBParameterGroup {name}"), e)),
            }
        }
    };
    if let Some(arn) = group.db_parameter_group_arn() {
        let have = tags_of(rds, arn).await?;
        converge_tags(rds, cx, "DB parameter group", name, arn, &have, &cx.tags()).await?;
    }
    if let Some(have) = group.db_parameter_group_family()
        && have != family
    {
        return Err(KindError::Permanent(format!(
            "DB parameter group {name} is of family {have}, not {family}; a family change (a \
             major version upgrade) is not done by envctl"
        )));
    }
    // Only user-set parameters: the group's own choices are not ours.
    let mut current = BTreeMap::new();
    let mut pages = rds
        .describe_db_parameters()
        .db_parameter_group_name(name)
        .source("user")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify(&format!("DescribeDBParameters {name}"), e))?;
        for p in page.parameters() {
            if let (Some(n), Some(v)) = (p.parameter_name(), p.parameter_value()) {
                current.insert(n.to_string(), v.to_string());
            }
        }
    }
    let changes: Vec<Parameter> = values
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| {
            // pending-reboot is accepted for static and dynamic parameters
            // alike; a new instance boots with them anyway.
            Parameter::builder()
                .parameter_name(k)
                .parameter_value(v)
                .apply_method(ApplyMethod::PendingReboot)
                .build()
        })
        .collect();
    for batch in changes.chunks(PARAMETER_BATCH) {
        rds.modify_db_parameter_group()
            .db_parameter_group_name(name)
            .set_parameters(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| classify(&format!("ModifyDBParameterGroup {name}"), e))?;
    }
    Ok(())
}

// ----------------------------------------------------------- instance ----

async fn describe(rds: &Client, identifier: &str) -> Result<Option<DbInstance>, KindError> {
    match rds
        .describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_instances().first().cloned()),
        Err(e) if e.code() == Some("DBInstanceNotFound") => Ok(None),
        Err(e) => Err(classify(&format!("DescribeDBInstances {identifier}"), e)),
    }
}

fn instance_tags(w: &Wanted, cx: &Cx) -> Vec<(String, String)> {
    let mut t = cx.tags();
    t.push((
        PASSWORD_TAG.to_string(),
        fingerprint(&w.identifier, &w.password),
    ));
    t.push((FINAL_SNAPSHOT_TAG.to_string(), w.final_snapshot.to_string()));
    t
}

async fn create_instance(rds: &Client, cx: &Cx, w: &Wanted) -> Result<DbInstance, KindError> {
    let id = &w.identifier;
    let created = rds
        .create_db_instance()
        .db_instance_identifier(id)
        .engine(&w.engine)
        .set_engine_version(w.engine_version.clone())
        .db_instance_class(&w.instance_class)
        .allocated_storage(w.allocated_storage)
        .db_name(&w.database)
        .master_username(&w.username)
        .master_user_password(w.password.expose())
        .db_subnet_group_name(id)
        .set_vpc_security_group_ids(
            (!w.security_groups.is_empty()).then(|| w.security_groups.clone()),
        )
        .set_db_parameter_group_name(w.parameters.as_ref().map(|_| id.clone()))
        .multi_az(w.multi_az)
        .deletion_protection(w.deletion_protection)
        .storage_encrypted(true)
        .publicly_accessible(false)
        // Snapshots (automated, manual and the final one) carry the
        // instance's tags, so they are found and attributed like it (RDS API
        // reference, CreateDBInstance CopyTagsToSnapshot).
        .copy_tags_to_snapshot(true)
        .set_tags(Some(sdk_tags(instance_tags(w, cx))?))
        .send()
        .await;
    match created {
        Ok(out) => out.db_instance().cloned().ok_or_else(|| {
            KindError::Permanent(format!("CreateDBInstance {id}: no instance in the answer"))
        }),
        Err(e) if e.code() == Some("DBInstanceAlreadyExists") => Err(KindError::Transient(
            format!("CreateDBInstance {id}: it was created meanwhile; adopting it next"),
        )),
        Err(e) => Err(classify(&format!("CreateDBInstance {id}"), e)),
    }
}

/// Brings an existing instance to the wanted settings: what cannot change
/// is an error, the rest goes into one ModifyDBInstance (applied at once).
async fn converge_instance(
    rds: &Client,
    cx: &Cx,
    w: &Wanted,
    i: &DbInstance,
) -> Result<(), KindError> {
    let id = &w.identifier;
    let arn = i
        .db_instance_arn()
        .ok_or_else(|| KindError::Permanent(format!("DB instance {id}: no ARN")))?;
    let have_tags = tag_map(i.tag_list());
    refuse_foreign(&format!("DB instance {id}"), &have_tags, cx)?;
    let status = i.db_instance_status().unwrap_or("unknown");
    if matches!(status, "deleting" | "deleted") {
        return Err(KindError::Transient(format!(
            "DB instance {id} is being deleted; it can be created again once it is gone"
        )));
    }
    let fixed = [
        ("engine", i.engine(), Some(w.engine.as_str())),
        ("database", i.db_name(), Some(w.database.as_str())),
        ("username", i.master_username(), Some(w.username.as_str())),
    ];
    for (what, have, want) in fixed {
        if let (Some(have), Some(want)) = (have, want)
            && !have.eq_ignore_ascii_case(want)
        {
            return Err(KindError::Permanent(format!(
                "DB instance {id} exists with {what} '{have}', not '{want}'; it cannot change: \
                 destroy the resource first (or set {what}: {have})"
            )));
        }
    }

    let mut m = rds
        .modify_db_instance()
        .db_instance_identifier(id)
        .apply_immediately(true);
    let mut changes: Vec<&str> = Vec::new();
    if i.db_instance_class() != Some(w.instance_class.as_str()) {
        m = m.db_instance_class(&w.instance_class);
        changes.push("instance_class");
    }
    match i.allocated_storage() {
        Some(have) if have > w.allocated_storage => {
            return Err(KindError::Permanent(format!(
                "DB instance {id} has {have} GiB; allocated_storage {} would shrink it, which \
                 RDS cannot do",
                w.allocated_storage
            )));
        }
        Some(have) if have < w.allocated_storage => {
            m = m.allocated_storage(w.allocated_storage);
            changes.push("allocated_storage");
        }
        _ => {}
    }
    if i.multi_az().unwrap_or(false) != w.multi_az {
        m = m.multi_az(w.multi_az);
        changes.push("multi_az");
    }
    if i.copy_tags_to_snapshot() != Some(true) {
        m = m.copy_tags_to_snapshot(true);
        changes.push("copy_tags_to_snapshot");
    }
    if i.deletion_protection().unwrap_or(false) != w.deletion_protection {
        m = m.deletion_protection(w.deletion_protection);
        changes.push("deletion_protection");
    }
    if !w.security_groups.is_empty() {
        let mut have: Vec<&str> = i
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect();
        let mut want: Vec<&str> = w.security_groups.iter().map(String::as_str).collect();
        have.sort_unstable();
        want.sort_unstable();
        if have != want {
            m = m.set_vpc_security_group_ids(Some(w.security_groups.clone()));
            changes.push("security_group_ids");
        }
    }
    if w.parameters.is_some()
        && !i
            .db_parameter_groups()
            .iter()
            .any(|g| g.db_parameter_group_name() == Some(id.as_str()))
    {
        m = m.db_parameter_group_name(id);
        changes.push("parameters");
    }
    let wanted_tags = instance_tags(w, cx);
    let new_fingerprint = fingerprint(id, &w.password);
    if have_tags.get(PASSWORD_TAG) != Some(&new_fingerprint) {
        m = m.master_user_password(w.password.expose());
        changes.push("password");
    }
    if !changes.is_empty() {
        if status != "available" {
            return Err(KindError::Transient(format!(
                "DB instance {id} is {status}; {} will be changed once it is available",
                changes.join(", ")
            )));
        }
        m.send().await.map_err(|e| {
            classify(
                &format!("ModifyDBInstance {id} ({})", changes.join(", ")),
                e,
            )
        })?;
    }
    // The fingerprint tag follows the password only once it was sent.
    converge_tags(rds, cx, "DB instance", id, arn, &have_tags, &wanted_tags).await
}

fn outputs(w: &Wanted, i: &DbInstance, host: &str, port: i32) -> Outputs {
    Outputs::new()
        .plain("host", host)
        .plain("port", port.to_string())
        .plain("database", i.db_name().unwrap_or(&w.database))
        .plain("username", i.master_username().unwrap_or(&w.username))
        .plain("arn", i.db_instance_arn().unwrap_or_default())
        .plain("identifier", &w.identifier)
        .plain("final_snapshot", w.final_snapshot.to_string())
}

async fn apply(cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
    let w = wanted(cx, props)?;
    let rds = &cx.backends.aws.rds;
    let id = &w.identifier;
    // Another tenant's instance under our name: refuse before making
    // anything.
    let existing = describe(rds, id).await?;
    if let Some(i) = &existing {
        refuse_foreign(&format!("DB instance {id}"), &tag_map(i.tag_list()), cx)?;
    }
    ensure_subnet_group(rds, cx, &w).await?;
    if let Some((family, values)) = &w.parameters {
        ensure_parameter_group(rds, cx, id, family, values).await?;
    }
    let instance = match existing {
        Some(i) => {
            converge_instance(rds, cx, &w, &i).await?;
            i
        }
        None => create_instance(rds, cx, &w).await?,
    };
    // RDS assigns the endpoint a few minutes into creation; the outputs need
    // it, so apply waits for it (the engine calls apply again, under its
    // progress and cancellation; everything above is idempotent), and
    // ready() then waits for `available`.
    let endpoint = |i: &DbInstance| {
        i.endpoint()
            .and_then(|e| Some((e.address()?.to_string(), e.port()?)))
    };
    if endpoint(&instance).is_none() {
        let status = instance.db_instance_status().unwrap_or("not visible yet");
        return Err(KindError::waiting(
            format!("DB instance {id} is {status}; RDS has not assigned its endpoint yet"),
            format!("RDS to assign DB instance {id} its endpoint"),
            ENDPOINT_WITHIN,
        ));
    }
    let (host, port) = endpoint(&instance).unwrap_or_default();
    Ok(outputs(&w, &instance, &host, port))
}

// ------------------------------------------------------------ delete ----

async fn delete_instance(
    rds: &Client,
    id: &str,
    final_snapshot: bool,
    tenant: &str,
) -> Result<(), KindError> {
    let Some(i) = describe(rds, id).await? else {
        return Ok(());
    };
    // Another tenant's instance under this name is not ours: ours is gone.
    if foreign_owner(&tag_map(i.tag_list()), tenant).is_some() {
        return Ok(());
    }
    if !matches!(i.db_instance_status(), Some("deleting" | "deleted")) {
        let mut call = rds
            .delete_db_instance()
            .db_instance_identifier(id)
            .delete_automated_backups(true);
        call = if final_snapshot {
            let now = jiff::Timestamp::now().as_second();
            call.skip_final_snapshot(false)
                .final_db_snapshot_identifier(format!("{id}-final-{now}"))
        } else {
            call.skip_final_snapshot(true)
        };
        match call.send().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("DBInstanceNotFound") => return Ok(()),
            Err(e)
                if e.code() == Some("InvalidParameterCombination")
                    && e.message().is_some_and(|m| {
                        m.to_ascii_lowercase().contains("deletion protection")
                    }) =>
            {
                return Err(KindError::Permanent(format!(
                    "DB instance {id} has deletion protection; set deletion_protection: false \
                     and apply, then destroy"
                )));
            }
            // Busy (creating, modifying, backing up) or a snapshot name
            // taken this very second: try again shortly.
            Err(e)
                if matches!(
                    e.code(),
                    Some("InvalidDBInstanceState" | "DBSnapshotAlreadyExists")
                ) =>
            {
                return Err(KindError::Transient(format!(
                    "DeleteDBInstance {id}: {}",
                    e.message().unwrap_or("the instance is busy")
                )));
            }
            Err(e) => return Err(classify(&format!("DeleteDBInstance {id}"), e)),
        }
    }
    wait_gone(rds, id).await
}

/// Whether instance `id` is gone: DescribeDBInstances answers
/// DBInstanceNotFound (what terraform-provider-aws rds/instance.go
/// waitDBInstanceDeleted waits for). While it is not, a
/// [`KindError::Waiting`] naming its status: the engine calls `delete`
/// again (with backoff, under its progress and cancellation) until
/// [`DELETE_WITHIN`]. The subnet and parameter groups are deleted only
/// after this (deleting them earlier answers InvalidDBSubnetGroupStateFault).
async fn wait_gone(rds: &Client, id: &str) -> Result<(), KindError> {
    let Some(status) = describe(rds, id)
        .await?
        .map(|i| i.db_instance_status().unwrap_or("deleting").to_string())
    else {
        return Ok(());
    };
    Err(KindError::waiting(
        format!("DB instance {id} is still {status}"),
        format!("DB instance {id} to finish deleting"),
        DELETE_WITHIN,
    ))
}

/// Marks the final snapshots of instance `id` as kept on purpose: the
/// tenant's tags (copied from the instance by CopyTagsToSnapshot, given
/// again here for instances created before envctl set it) and
/// `envctl:kept=final-snapshot`, which the reaper's orphan detection and
/// the sweeps leave alone. DescribeDBSnapshots / AddTagsToResource (RDS API
/// reference; AddTagsToResource overwrites a key's value, so it is
/// idempotent).
async fn keep_final_snapshots(
    rds: &Client,
    id: &str,
    tags: &[(String, String)],
) -> Result<(), KindError> {
    let prefix = format!("{id}-final-");
    let mut arns = Vec::new();
    let mut pages = rds
        .describe_db_snapshots()
        .db_instance_identifier(id)
        .snapshot_type("manual")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify(&format!("DescribeDBSnapshots {id}"), e))?;
        for snap in page.db_snapshots() {
            if snap
                .db_snapshot_identifier()
                .is_some_and(|s| s.starts_with(&prefix))
                && let Some(arn) = snap.db_snapshot_arn()
            {
                let have = tag_map(snap.tag_list());
                if have.get(KEPT_TAG).map(String::as_str) != Some(KEPT_FINAL_SNAPSHOT) {
                    arns.push(arn.to_string());
                }
            }
        }
    }
    let mut wanted = tags.to_vec();
    wanted.push((KEPT_TAG.to_string(), KEPT_FINAL_SNAPSHOT.to_string()));
    for arn in arns {
        rds.add_tags_to_resource()
            .resource_name(&arn)
            .set_tags(Some(sdk_tags(wanted.clone())?))
            .send()
            .await
            .map_err(|e| classify(&format!("AddTagsToResource {arn}"), e))?;
    }
    Ok(())
}

/// Whether the group described by `arn` is tagged for another tenant.
async fn foreign_group(rds: &Client, arn: Option<&str>, tenant: &str) -> Result<bool, KindError> {
    match arn {
        Some(arn) => Ok(foreign_owner(&tags_of(rds, arn).await?, tenant).is_some()),
        None => Ok(false),
    }
}

async fn delete_groups(rds: &Client, name: &str, tenant: &str) -> Result<(), KindError> {
    let subnet_group = match rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
    {
        Ok(out) => out.db_subnet_groups().first().cloned(),
        Err(e) if e.code() == Some("DBSubnetGroupNotFoundFault") => None,
        Err(e) => return Err(classify(&format!("DescribeDBSubnetGroups {name}"), e)),
    };
    if let Some(g) = subnet_group
        && !foreign_group(rds, g.db_subnet_group_arn(), tenant).await?
    {
        delete_subnet_group(rds, name).await?;
    }
    let parameter_group = match rds
        .describe_db_parameter_groups()
        .db_parameter_group_name(name)
        .send()
        .await
    {
        Ok(out) => out.db_parameter_groups().first().cloned(),
        Err(e) if e.code() == Some("DBParameterGroupNotFound") => None,
        Err(e) => return Err(classify(&format!("DescribeDBParameterGroups {name}"), e)),
    };
    match parameter_group {
        Some(g) if !foreign_group(rds, g.db_parameter_group_arn(), tenant).await? => {
            delete_parameter_group(rds, name).await
        }
        _ => Ok(()),
    }
}

async fn delete_subnet_group(rds: &Client, name: &str) -> Result<(), KindError> {
    match rds
        .delete_db_subnet_group()
        .db_subnet_group_name(name)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if e.code() == Some("DBSubnetGroupNotFoundFault") => {}
        // Still used by an instance being deleted: classify makes it a wait.
        Err(e) => return Err(classify(&format!("DeleteDBSubnetGroup {name}"), e)),
    }
    Ok(())
}

async fn delete_parameter_group(rds: &Client, name: &str) -> Result<(), KindError> {
    match rds
        .delete_db_parameter_group()
        .db_parameter_group_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("DBParameterGroupNotFound") => Ok(()),
        Err(e) if e.code() == Some("InvalidDBParameterGroupState") => Err(KindError::Transient(
            format!("DeleteDBParameterGroup {name}: still in use; retrying"),
        )),
        Err(e) => Err(classify(&format!("DeleteDBParameterGroup {name}"), e)),
    }
}

// -------------------------------------------------------------- kind ----

#[async_trait]
impl Kind for Instance {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "rds"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// A single-AZ PostgreSQL db.t3.micro with 20 GiB goes from CreateDBInstance
    /// to `available` in about 8 minutes (typical figure for AWS, passing
    /// through `creating` and `backing-up`; the RDS user guide's "Viewing
    /// Amazon RDS DB instance status" lists the states but no durations; the
    /// SDK's `db_instance_available` waiter polls every 30 s for up to 30
    /// min). Multi-AZ takes longer.
    fn expected(&self) -> Duration {
        Duration::from_secs(8 * 60)
    }

    /// Terraform's aws_db_instance allows 40 minutes to create by default.
    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(40 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let password = raw_password(props);
        apply(cx, props)
            .await
            .map_err(|e| redact(e, password.as_deref()))
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let id = out.require("identifier")?;
        let Some(i) = describe(&cx.backends.aws.rds, id).await? else {
            return Ok(Readiness::Pending(format!(
                "DB instance {id} not visible yet"
            )));
        };
        match i.db_instance_status().unwrap_or("unknown") {
            "available" => Ok(Readiness::Ready),
            s if FAILED_STATES.contains(&s) => Err(KindError::Permanent(format!(
                "DB instance {id} is {s}; it will not become available without help"
            ))),
            s => Ok(Readiness::Pending(s.to_string())),
        }
    }

    /// Deletes the instance (with a final snapshot if asked), waits until it
    /// is gone, then deletes its subnet group and parameter group.
    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let id = out.require("identifier")?;
        let final_snapshot = out
            .get("final_snapshot")
            .is_some_and(|v| v.expose() == "true");
        let rds = &cx.backends.aws.rds;
        let tenant = cx.tenant.as_str();
        delete_instance(rds, id, final_snapshot, tenant).await?;
        if final_snapshot {
            keep_final_snapshots(rds, id, &cx.tags()).await?;
        }
        delete_groups(rds, id, tenant).await
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let rds = &cx.backends.aws.rds;
        let tenant = cx.tenant.as_str();
        // identifier → (resource id, final snapshot)
        let mut found: BTreeMap<String, (String, bool)> = BTreeMap::new();
        let mut pages = rds.describe_db_instances().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeDBInstances", e))?;
            for i in page.db_instances() {
                let t = tag_map(i.tag_list());
                if let (Some(id), Some(resource)) =
                    (i.db_instance_identifier(), swept_resource(tenant, &t))
                {
                    let final_snapshot = t.get(FINAL_SNAPSHOT_TAG).is_some_and(|v| v == "true");
                    found.insert(id.to_string(), (resource, final_snapshot));
                }
            }
        }
        // Groups left behind by a delete that stopped half-way. Ours are all
        // named envctl-…; only those need their tags read.
        let mut groups: Vec<(String, String)> = Vec::new();
        let mut pages = rds.describe_db_subnet_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeDBSubnetGroups", e))?;
            for g in page.db_subnet_groups() {
                if let (Some(name), Some(arn)) = (g.db_subnet_group_name(), g.db_subnet_group_arn())
                {
                    groups.push((name.to_string(), arn.to_string()));
                }
            }
        }
        let mut pages = rds.describe_db_parameter_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeDBParameterGroups", e))?;
            for g in page.db_parameter_groups() {
                if let (Some(name), Some(arn)) =
                    (g.db_parameter_group_name(), g.db_parameter_group_arn())
                {
                    groups.push((name.to_string(), arn.to_string()));
                }
            }
        }
        for (name, arn) in groups {
            if !name.starts_with("envctl-") || found.contains_key(&name) {
                continue;
            }
            if let Some(resource) = swept_resource(tenant, &tags_of(rds, &arn).await?) {
                found.insert(name, (resource, false));
            }
        }
        Ok(found
            .into_iter()
            .map(|(identifier, (resource_id, final_snapshot))| Found {
                resource_id,
                outputs: Outputs::new()
                    .plain("identifier", identifier)
                    .plain("final_snapshot", final_snapshot.to_string()),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_families_follow_the_engine_version() {
        assert_eq!(parameter_family("postgres", "16.4").unwrap(), "postgres16");
        assert_eq!(parameter_family("postgres", "16").unwrap(), "postgres16");
        assert_eq!(
            parameter_family("postgres", "9.6.22").unwrap(),
            "postgres9.6"
        );
        assert_eq!(parameter_family("mysql", "8.0.35").unwrap(), "mysql8.0");
        assert_eq!(
            parameter_family("mariadb", "10.11.5").unwrap(),
            "mariadb10.11"
        );
        assert!(parameter_family("mysql", "8").is_err());
        assert!(parameter_family("oracle-ee", "19.0").is_err());
        assert!(parameter_family("postgres", "latest").is_err());
    }

    #[test]
    fn password_rules_are_checked_without_showing_it() {
        assert!(check_password("postgres", "Abcdefgh12345678").is_ok());
        for bad in [
            "short1A",
            "has space 123",
            "with/slash12",
            "with@at12345",
            "quo\"te12345",
        ] {
            let e = check_password("postgres", bad).unwrap_err().to_string();
            assert!(!e.contains(bad), "{e}");
        }
        assert!(check_password("mysql", &"a".repeat(42)).is_err());
        assert!(check_password("postgres", &"a".repeat(128)).is_ok());
    }

    #[test]
    fn redaction_masks_plain_and_escaped_forms() {
        let e = KindError::Permanent("bad \"pa\\\\ss1234\" and pa\\ss1234".into());
        let r = redact(e, Some("pa\\ss1234")).to_string();
        assert!(
            !r.contains("pa\\ss1234") && !r.contains("pa\\\\ss1234"),
            "{r}"
        );
        assert!(r.contains(MASK));
        let t = redact(KindError::Transient("x".into()), Some("secret12"));
        assert!(t.is_transient());
    }

    #[test]
    fn fingerprints_depend_on_identifier_and_password() {
        let a = fingerprint("envctl-a-db", &SecretString::new("Password1234"));
        assert_eq!(a.len(), 64);
        assert!(!a.contains("Password1234"));
        assert_eq!(
            a,
            fingerprint("envctl-a-db", &SecretString::new("Password1234"))
        );
        assert_ne!(
            a,
            fingerprint("envctl-b-db", &SecretString::new("Password1234"))
        );
        assert_ne!(
            a,
            fingerprint("envctl-a-db", &SecretString::new("Password1235"))
        );
    }

    #[test]
    fn check_applies_create_db_instance_rules_without_showing_the_password() {
        let check = |v: serde_json::Value| {
            let serde_json::Value::Object(m) = v else {
                unreachable!()
            };
            Instance.check(&m)
        };
        let base = serde_json::json!({
            "password": "${db-password.value}",
            "subnet_ids": ["${net.subnet_a}", "${net.subnet_b}"],
        });
        let with = |extra: serde_json::Value| {
            let mut v = base.clone();
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            check(v)
        };
        assert!(with(serde_json::json!({})).is_empty());
        for (extra, hint) in [
            (
                serde_json::json!({"allocated_storage": 10}),
                "the least allowed is 20",
            ),
            (
                serde_json::json!({"engine": "sqlserver-ex", "allocated_storage": 20000}),
                "20 to 16384",
            ),
            (
                serde_json::json!({"instance_class": "t3.micro"}),
                "db.t3.micro",
            ),
            (
                serde_json::json!({"engine": "mysql", "username": "a_rather_long_admin"}),
                "at most 16",
            ),
            (
                serde_json::json!({"username": "1admin"}),
                "start with a letter",
            ),
        ] {
            let issues = with(extra.clone());
            assert_eq!(issues.len(), 1, "{extra}: {issues:?}");
            assert!(issues[0].message.contains(hint), "{extra}: {issues:?}");
        }
        let issues = with(serde_json::json!({"password": "s3cr/t-value"}));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(!issues[0].message.contains("s3cr/t-value"), "{issues:?}");
    }

    #[test]
    fn wrongly_typed_and_out_of_range_literals_name_the_field() {
        let issues = |extra: serde_json::Value| {
            let mut m = serde_json::json!({
                "password": "${db-password.value}",
                "subnet_ids": "${network.subnet_ids}",
            });
            for (k, x) in extra.as_object().unwrap() {
                m[k] = x.clone();
            }
            Instance
                .check(m.as_object().unwrap())
                .into_iter()
                .map(|i| (i.path.join("."), i.message))
                .collect::<Vec<_>>()
        };
        let found = issues(serde_json::json!({"multi_az": "yes"}));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "multi_az");
        assert!(found[0].1.starts_with("must be true or false"), "{found:?}");
        let found = issues(serde_json::json!({"allocated_storage": 70000}));
        assert_eq!(found[0].0, "allocated_storage", "{found:?}");
        assert!(
            found[0].1.contains("the most allowed is 65536"),
            "{found:?}"
        );
        let found = issues(serde_json::json!({"parameters": {"work_mem": [1]}}));
        assert_eq!(found[0].0, "parameters.work_mem", "{found:?}");
        let found = issues(serde_json::json!({"parameters": {"work_mem": 4096}}));
        assert_eq!(found[0].0, "parameters", "{found:?}");
        assert!(found[0].1.contains("engine_version"), "{found:?}");
        // A literal password too short: named, never shown.
        let found = issues(serde_json::json!({"password": "hunter2"}));
        assert_eq!(found[0].0, "password", "{found:?}");
        assert!(!found[0].1.contains("hunter2"), "{found:?}");
        // The same value given to a published property: masked there too.
        let found = issues(serde_json::json!({
            "password": "Zq7uXk2Lw9PbR4tN", "username": "Zq7uXk2Lw9PbR4tN"
        }));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "username", "{found:?}");
        assert!(!found[0].1.contains("Zq7uXk2Lw9PbR4tN"), "{found:?}");
    }

    #[test]
    fn identifiers_follow_the_rds_rules() {
        assert!(valid_identifier("envctl-acme-db"));
        assert!(!valid_identifier("envctl-acme--db"));
        assert!(!valid_identifier("envctl-acme-db-"));
        assert!(!valid_identifier("1db"));
    }
}
