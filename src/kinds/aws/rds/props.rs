//! The properties of `aws.rds.instance`: their schema and the
//! CreateDBInstance rules [`KindProps::check`] adds, the outputs, and
//! [`Wanted`], what apply makes of them.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

use super::password::{check_password, mask, secret};
use crate::kinds::aws::props::{
    has_ref, id_issue, non_empty, refuse, string_list, string_list_schema,
};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{Cx, KindError, OutputSpec, PropIssue, Props, parse_props};
use crate::secret::SecretString;

/// DB instance identifiers are at most 63 characters.
pub(super) const MAX_NAME: usize = 63;

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
                        issues.push(crate::kinds::aws::ec2::rules::issue_of(e));
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
pub(super) const NAME: &str = "aws.rds.instance";

pub(super) static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<RdsProps>(NAME));

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

pub(super) static OUTPUTS: &[OutputSpec] = &[
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

pub(super) struct Wanted {
    pub(super) identifier: String,
    pub(super) engine: String,
    pub(super) engine_version: Option<String>,
    pub(super) instance_class: String,
    pub(super) allocated_storage: i32,
    pub(super) database: String,
    pub(super) username: String,
    pub(super) password: SecretString,
    pub(super) subnets: Vec<String>,
    pub(super) security_groups: Vec<String>,
    /// Family and parameters of our parameter group, if any.
    pub(super) parameters: Option<(String, BTreeMap<String, String>)>,
    pub(super) final_snapshot: bool,
    pub(super) multi_az: bool,
    pub(super) deletion_protection: bool,
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

pub(super) fn wanted(cx: &Cx, props: &Props) -> Result<Wanted, KindError> {
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

/// [`wanted`] for an instance that already has its identifier: a warm-pool
/// member a tenant claims (see `super::pool`).
pub(super) fn wanted_as(identifier: &str, props: &Props) -> Result<Wanted, KindError> {
    let p: RdsProps = parse_props(props)?;
    refuse(SCHEMA.issues(props))?;
    wanted_from(identifier.to_string(), p)
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

#[cfg(test)]
mod tests {
    use super::super::Instance;
    use super::*;
    use crate::kinds::Kind;

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
