//! Loading a stack file: read it, parse the YAML, decode its shape
//! (`decode`), give each resource its line (`locate`), expand catalog
//! entries (`expand`), resolve paths against the stack file's directory
//! (`paths`), fill in built-in values, and validate (see `validate`). The
//! only I/O is reading the file (and the catalogs it names).

use std::path::Path;

use serde_yaml_ng::Value as Yaml;

use super::builtins::Builtins;
use super::decode::{decode, type_name};
use super::model::Stack;
use super::validate::{self, Catalog};

pub(crate) use super::locate::{Locator, Seg};
pub use super::problem::{Problem, StackError};

/// Reads, parses and validates a stack file against the kind registry, with
/// the built-in values of the environment ([`Builtins::from_env`]).
pub fn load_file(path: &Path) -> Result<Stack, StackError> {
    load_file_in(path, &Builtins::from_env())
}

/// [`load_file`] with the given built-in values (`${envctl.domain}`).
pub fn load_file_in(path: &Path, builtins: &Builtins) -> Result<Stack, StackError> {
    let text = std::fs::read_to_string(path).map_err(|source| StackError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    load_str_in(path, &text, &Catalog::registry(), builtins)
}

/// Parses and validates stack text against the kind registry (`path` is for
/// messages only), with the built-in values of the environment.
pub fn load_str(path: &Path, text: &str) -> Result<Stack, StackError> {
    load_str_in(path, text, &Catalog::registry(), &Builtins::from_env())
}

/// [`load_str`] against the given kinds, without built-in values.
pub fn load_str_with(path: &Path, text: &str, catalog: &Catalog) -> Result<Stack, StackError> {
    load_str_in(path, text, catalog, &Builtins::default())
}

/// [`load_str`] against the given kinds and built-in values.
pub fn load_str_in(
    path: &Path,
    text: &str,
    catalog: &Catalog,
    builtins: &Builtins,
) -> Result<Stack, StackError> {
    let fail = |line, message| StackError::invalid(path, vec![Problem::new(line, None, message)]);
    let mut root: Yaml = serde_yaml_ng::from_str(text).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        let mut msg = e.to_string();
        if let Some(l) = e.location() {
            msg = msg.replace(&format!(" at line {} column {}", l.line(), l.column()), "");
        }
        let fix = if msg.contains("duplicate entry") {
            "a key may appear once per mapping: remove or rename the repeated one"
        } else {
            "fix the YAML here (indentation, quoting, a missing ':')"
        };
        fail(line, format!("YAML syntax error: {msg}; {fix}"))
    })?;
    root.apply_merge()
        .map_err(|e| fail(0, format!("YAML merge key (<<) error: {e}; fix the merge")))?;
    let map = match root {
        Yaml::Mapping(m) => m,
        Yaml::Null => {
            return Err(fail(
                0,
                "the file is empty: a stack needs at least `stack: <name>` and `resources:`".into(),
            ));
        }
        other => {
            return Err(fail(
                1,
                format!(
                    "the top level is {}; a stack is a mapping with `stack: <name>` and `resources:`",
                    type_name(&other)
                ),
            ));
        }
    };

    let loc = Locator::new(text);
    let (mut stack, mut items, mut problems) = decode(path, &map, &loc);
    let item_lines = loc.items(&[Seg::Key("resources")]);
    for (k, &item) in items.iter().enumerate() {
        let line = item_lines.get(item).copied().unwrap_or_else(|| {
            // Flow style: the n-th `id: x` for the n-th resource named x.
            let id = &stack.resources[k].id;
            let nth = stack.resources[..k].iter().filter(|o| o.id == *id).count();
            match loc.id_line(id, nth) {
                0 => loc.line(&[Seg::Key("resources")]),
                n => n,
            }
        });
        stack.resources[k].line = line;
    }
    super::paths::resolve(&mut stack);
    problems.extend(super::expand::expand_catalogs(&mut stack, &mut items));
    let builtin_issues = super::builtins::apply(&mut stack, builtins);
    let at = |res: Option<usize>, path: &[Seg]| match res {
        Some(k) => {
            let mut full = vec![Seg::Key("resources"), Seg::Item(items[k])];
            full.extend_from_slice(path);
            loc.line(&full).max(stack.resources[k].line)
        }
        None => loc.line(path),
    };
    problems.extend(builtin_issues.into_iter().map(|i| i.problem(&stack, &at)));
    problems.extend(super::public_names::check(&stack, &at));
    problems.extend(super::pooled::check(&stack, &at));
    problems.extend(validate::check(&stack, catalog, &at));
    if problems.is_empty() {
        Ok(stack)
    } else {
        Err(StackError::invalid(path, problems))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::envapi::Level;
    use crate::stack::validate::tests::catalog;

    pub(crate) const FILE: &str = "stacks/tenant.yaml";

    /// A valid stack; line numbers are noted for the tests that break it.
    pub(crate) const GOOD: &str = "\
# tenant stack
stack: tenant
environment: staging
budget: 10m
ttl: 7d
expected:
  aws.s3.bucket: 4s
limits:
  s3: 8
resources:
  - id: uploads
    kind: aws.s3.bucket
    properties:
      versioning: true
    publish:
      - output: name
        key: UPLOADS_BUCKET
  - id: db-password
    kind: secret.password
    publish:
      - {output: value, key: DB_PASSWORD, secret: true, level: service, service: billing}
  - id: db
    kind: aws.rds.instance
    properties:
      instance_class: db.t3.micro
      engine: postgres
      password: \"${db-password.value}\"
    depends_on: [uploads]
";

    pub(crate) fn load(text: &str) -> Result<Stack, StackError> {
        load_str_with(Path::new(FILE), text, &catalog())
    }

    /// The error message of `text`, which must fail.
    pub(crate) fn err(text: &str) -> String {
        match load(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    /// `text` with `from` replaced by `to` (which must occur).
    pub(crate) fn edit(from: &str, to: &str) -> String {
        assert!(GOOD.contains(from), "{from}");
        GOOD.replacen(from, to, 1)
    }

    #[track_caller]
    pub(crate) fn assert_has(msg: &str, parts: &[&str]) {
        for p in parts {
            assert!(msg.contains(p), "missing {p:?} in:\n{msg}");
        }
    }

    #[test]
    fn good_stack_loads_with_lines_and_values() {
        let s = load(GOOD).unwrap();
        assert_eq!(s.name, "tenant");
        assert_eq!(s.environment, "staging");
        assert_eq!(s.budget, Duration::from_secs(600));
        assert_eq!(s.ttl, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(s.expected["aws.s3.bucket"], Duration::from_secs(4));
        assert_eq!(s.limits["s3"], 8);
        let lines: Vec<(&str, usize)> = s
            .resources
            .iter()
            .map(|r| (r.id.as_str(), r.line))
            .collect();
        assert_eq!(
            lines,
            vec![("uploads", 11), ("db-password", 18), ("db", 22)]
        );
        let db = s.resource("db").unwrap();
        assert_eq!(db.depends_on, vec!["uploads"]);
        assert_eq!(db.properties["password"], "${db-password.value}");
        let p = &s.resource("db-password").unwrap().publish[0];
        assert_eq!(p.level, Level::Service("billing".into()));
        assert!(p.secret);
        assert_eq!(
            s.resource("uploads").unwrap().publish[0].level,
            Level::Tenant
        );
    }

    #[test]
    fn yaml_syntax_error_names_file_and_line() {
        let msg = err(&edit(
            "    kind: aws.s3.bucket\n",
            "    kind: [aws.s3.bucket\n",
        ));
        assert_has(
            &msg,
            &["stacks/tenant.yaml:", "YAML syntax error", "fix the YAML"],
        );
        let msg = err("stack: t\nresources:\n  - id: a\n   kind: x\n");
        assert_has(&msg, &["stacks/tenant.yaml:4:", "YAML syntax error"]);
        assert!(
            !msg.contains("at line 4 column"),
            "location given once: {msg}"
        );
    }

    #[test]
    fn missing_required_fields_say_what_to_add() {
        let msg = err(&edit(
            "  - id: db\n    kind: aws.rds.instance\n",
            "  - kind: aws.rds.instance\n",
        ));
        assert_has(
            &msg,
            &["stacks/tenant.yaml:22: resource #3: has no `id:`; add `id: <name>`"],
        );
        let msg = err(&edit("    kind: aws.rds.instance\n", ""));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:22: resource 'db': has no `kind:`; add `kind: <kind>`",
                "aws.s3.bucket",
            ],
        );
        let msg = err(&edit("stack: tenant\n", ""));
        assert_has(
            &msg,
            &["stacks/tenant.yaml: the stack has no name: add `stack: <name>`"],
        );
        let msg = err("stack: t\n");
        assert_has(
            &msg,
            &["stacks/tenant.yaml: the stack has no `resources:`; add a list"],
        );
        let msg = err(&edit(
            "      - output: name\n        key: UPLOADS_BUCKET\n",
            "      - output: name\n",
        ));
        assert_has(
            &msg,
            &["stacks/tenant.yaml:16: resource 'uploads': publish entry #1 has no `key:`"],
        );
    }

    #[test]
    fn unknown_kind_suggests_and_lists_known_kinds() {
        let msg = err(&edit("kind: aws.s3.bucket", "kind: aws.s3.buckt"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:12: resource 'uploads': kind 'aws.s3.buckt' is unknown (did you mean 'aws.s3.bucket'?); known kinds: aws.s3.bucket, aws.rds.instance",
            ],
        );
    }

    #[test]
    fn unknown_property_suggests_and_lists_known_properties() {
        let msg = err(&edit("instance_class:", "instance_clas:"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:25: resource 'db': property 'instance_clas' is unknown for kind aws.rds.instance (did you mean 'instance_class'?); known properties: instance_class, engine, password",
            ],
        );
    }

    #[test]
    fn missing_required_property_says_what_to_add() {
        let msg = err(&edit("      engine: postgres\n", ""));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:24: resource 'db': property 'engine' is required for kind aws.rds.instance: add `engine: ...` under `properties:`",
            ],
        );
    }

    #[test]
    fn reference_to_a_missing_resource_suggests_the_id() {
        let msg = err(&edit("${db-password.value}", "${db-pasword.value}"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:27: resource 'db': property 'password': reference ${db-pasword.value} names no resource 'db-pasword' (did you mean 'db-password'?)",
            ],
        );
    }

    #[test]
    fn reference_to_an_unknown_output_lists_the_outputs() {
        let msg = err(&edit("${db-password.value}", "https://${uploads.nmae}/x"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:27: resource 'db': property 'password': reference ${uploads.nmae}: kind aws.s3.bucket of resource 'uploads' has no output 'nmae' (did you mean 'name'?); its outputs: name, arn",
            ],
        );
    }

    #[test]
    fn malformed_reference_is_reported_at_its_property() {
        let msg = err(&edit("${db-password.value}", "${db-password"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:27: resource 'db': property 'password': reference '${db-password' has no closing '}'",
                "'$${' for a literal",
            ],
        );
        let msg = err(&edit("${db-password.value}", "${dbpassword}"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:27: resource 'db': property 'password': reference '${dbpassword}' is malformed",
            ],
        );
    }

    #[test]
    fn depends_on_a_missing_resource_suggests_the_id() {
        let msg = err(&edit("depends_on: [uploads]", "depends_on: [upload]"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:28: resource 'db': depends_on 'upload' names no resource (did you mean 'uploads'?)",
            ],
        );
        let msg = err(&edit(
            "    depends_on: [uploads]",
            "    depends_on:\n      - uploads\n      - nope",
        ));
        assert_has(
            &msg,
            &["stacks/tenant.yaml:30: resource 'db': depends_on 'nope' names no resource"],
        );
    }

    #[test]
    fn self_reference_is_named_as_such() {
        let msg = err(&edit("${db-password.value}", "${db.host}"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:27: resource 'db': property 'password': reference ${db.host} points at the resource itself",
                "remove the reference",
            ],
        );
        assert!(!msg.contains("cycle"), "{msg}");
        let msg = err(&edit("depends_on: [uploads]", "depends_on: [uploads, db]"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:28: resource 'db': depends_on 'db' is the resource itself; remove it",
            ],
        );
    }

    #[test]
    fn duplicate_id_names_both_lines() {
        let msg = err(&edit("  - id: db\n", "  - id: uploads\n"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:22: resource 'uploads': id 'uploads' is declared twice (lines 11 and 22); give each resource a unique id",
            ],
        );
    }

    #[test]
    fn bad_id_states_the_rule() {
        let msg = err(&edit("  - id: uploads\n", "  - id: Uploads_1\n"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:11: resource 'Uploads_1': id 'Uploads_1' is invalid: use 1-40 characters of a-z, 0-9 and '-', starting with a letter",
            ],
        );
    }

    #[test]
    fn cycle_lists_every_member_in_order_with_the_edges() {
        // uploads -> db (depends_on) -> db-password -> uploads.
        let text = edit(
            "    publish:\n      - output: name",
            "    depends_on: [db]\n    publish:\n      - output: name",
        )
        .replace("    depends_on: [uploads]\n", "")
        .replace(
            "    kind: secret.password\n",
            "    kind: secret.password\n    depends_on: [uploads]\n",
        );
        let msg = err(&text);
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:11: resource 'uploads': dependency cycle uploads -> db -> db-password -> uploads",
                "uploads depends_on db (line 15)",
                "db uses ${db-password.value} in property 'password' (line 29)",
                "db-password depends_on uploads (line 21)",
                "remove one of these to break the cycle",
            ],
        );
        assert_eq!(msg.lines().count(), 1, "{msg}");
    }

    #[test]
    fn publish_with_a_malformed_key_shows_the_shape() {
        let msg = err(&edit("key: UPLOADS_BUCKET", "key: uploads-bucket"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:17: resource 'uploads': publish entry #1: KEY 'uploads-bucket' is malformed: use upper-case letters",
            ],
        );
    }

    #[test]
    fn publishing_a_secret_output_needs_secret_true() {
        let msg = err(&edit("secret: true, ", ""));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:21: resource 'db-password': publish entry #1: output 'value' of kind secret.password is secret; add `secret: true`",
            ],
        );
    }

    #[test]
    fn publishing_an_unknown_output_lists_the_outputs() {
        let msg = err(&edit("- output: name", "- output: nam"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:16: resource 'uploads': publish entry #1: output 'nam' is not an output of kind aws.s3.bucket (did you mean 'name'?); its outputs: name, arn",
            ],
        );
    }

    #[test]
    fn secret_password_without_publish_explains_why() {
        let msg = err(&edit(
            "    publish:\n      - {output: value, key: DB_PASSWORD, secret: true, level: service, service: billing}\n",
            "",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:18: resource 'db-password': a secret.password resource must publish its value",
                "lives only in the value store",
                "add `publish: [{output: value, key: DB_PASSWORD, secret: true}]`",
            ],
        );
    }

    #[test]
    fn zero_or_unknown_limits_are_rejected() {
        let msg = err(&edit("s3: 8", "s3: 0"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:9: limits: 's3' is 0",
                "set a positive number",
            ],
        );
        let msg = err(&edit("s3: 8", "s3: -2"));
        assert_has(
            &msg,
            &["stacks/tenant.yaml:9: limits: 's3' is -2; write a positive whole number"],
        );
        let msg = err(&edit("s3: 8", "sqss: 2"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:9: limits: API 'sqss' is unknown (did you mean 'sqs'?); known APIs: rds, s3, secret, sqs",
            ],
        );
    }

    #[test]
    fn expected_for_an_unknown_kind_is_rejected() {
        let msg = err(&edit("aws.s3.bucket: 4s", "aws.s3.bukket: 4s"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:7: expected: kind 'aws.s3.bukket' is unknown (did you mean 'aws.s3.bucket'?)",
            ],
        );
    }

    #[test]
    fn the_same_key_published_twice_at_one_level_is_rejected() {
        let msg = err(&edit(
            "key: DB_PASSWORD, secret: true, level: service, service: billing",
            "key: UPLOADS_BUCKET, secret: true",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:21: resource 'db-password': publish entry #1: KEY 'UPLOADS_BUCKET' is already published at the tenant-common level by resource 'uploads' (line 17)",
            ],
        );
    }

    #[test]
    fn every_problem_is_reported_one_per_line_in_line_order() {
        let text = edit("budget: 10m", "budget: soon")
            .replace("kind: aws.s3.bucket", "kind: aws.s3.buckt")
            .replace("depends_on: [uploads]", "depends_on: [nope]");
        let msg = err(&text);
        let lines: Vec<&str> = msg.lines().collect();
        assert_eq!(lines.len(), 3, "{msg}");
        assert!(
            lines[0].starts_with("stacks/tenant.yaml:4: budget"),
            "{msg}"
        );
        assert!(
            lines[1].starts_with("stacks/tenant.yaml:12: resource 'uploads': kind"),
            "{msg}"
        );
        assert!(
            lines[2].starts_with("stacks/tenant.yaml:28: resource 'db': depends_on"),
            "{msg}"
        );
        let Err(e) = load(&text) else { unreachable!() };
        assert_eq!(e.problems().len(), 3);
    }

    #[test]
    fn flow_style_resources_still_get_lines() {
        let text = "stack: t\nresources: [\n  {id: a, kind: aws.s3.bucket},\n  {id: b, kind: aws.s3.buckt}]\n";
        let msg = err(text);
        assert_has(
            &msg,
            &["stacks/tenant.yaml:4: resource 'b': kind 'aws.s3.buckt' is unknown"],
        );
    }

    #[test]
    fn load_file_reads_the_file_and_names_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml");
        std::fs::write(&path, "stack: t\nresources:\n- id: a\n  kind: nope\n").unwrap();
        // Against the registry: whatever it holds, 'nope' is no kind.
        let msg = load_file(&path).unwrap_err().to_string();
        assert_has(
            &msg,
            &[&format!(
                "{}:4: resource 'a': kind 'nope' is unknown",
                path.display()
            )],
        );
        let missing = dir.path().join("missing.yaml");
        let msg = load_file(&missing).unwrap_err().to_string();
        assert_has(
            &msg,
            &[
                &missing.display().to_string(),
                "cannot read the stack file",
                "check the path",
            ],
        );
    }

    #[test]
    fn a_thousand_resources_load_with_their_lines() {
        let mut text = String::from("stack: big\nresources:\n");
        for i in 0..1000 {
            text.push_str(&format!("  - id: n{i}\n    kind: aws.sqs.queue\n"));
            if i > 0 {
                text.push_str(&format!(
                    "    properties:\n      redrive_to: \"${{n{}.arn}}\"\n    depends_on: [n{}]\n",
                    i / 2,
                    i / 3
                ));
            }
        }
        // Speed is measured by `make bench`, not asserted here.
        let stack = load(&text).unwrap();
        assert_eq!(stack.resources.len(), 1000);
        assert_eq!(stack.resources[999].line, 999 * 5);
    }

    #[test]
    fn a_key_given_twice_is_a_located_yaml_error() {
        let msg = err(&edit(
            "    kind: aws.s3.bucket\n",
            "    kind: aws.s3.bucket\n    kind: aws.sqs.queue\n",
        ));
        // libyaml points at the start of the mapping holding the repeated key.
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:11: YAML syntax error: resources[0]: duplicate entry with key \"kind\"",
                "remove or rename the repeated one",
            ],
        );
    }

    #[test]
    fn a_top_level_that_is_no_mapping_is_named() {
        let msg = err("- a\n- b\n");
        assert_has(&msg, &["stacks/tenant.yaml:1: the top level is a list"]);
        let msg = err("# nothing\n");
        assert_has(&msg, &["stacks/tenant.yaml: the file is empty"]);
    }
}
