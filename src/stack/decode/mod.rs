//! The shape of a stack document: from parsed YAML to a [`Stack`], checking
//! known fields, value types and durations, with every problem at its line.
//! Resources and their publish entries are in `resource`; what the values
//! mean (kinds, references, ids) is checked later by `validate`.

mod resource;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_yaml_ng::{Mapping, Value as Yaml};

use super::locate::{Locator, Seg};
use super::model::{DEFAULT_BUDGET, DEFAULT_ENVIRONMENT, Stack};
use super::problem::Problem;
use super::validate::{did_you_mean, list};

/// Decodes the top-level mapping of the stack file at `path` (`loc` locates
/// its lines): the stack, the index of each resource's YAML item (for line
/// lookup; items that are no resource are skipped), and the problems found.
pub(super) fn decode(
    path: &Path,
    map: &Mapping,
    loc: &Locator,
) -> (Stack, Vec<usize>, Vec<Problem>) {
    let mut d = Decoder {
        loc,
        problems: Vec::new(),
    };
    let (stack, items) = d.stack(path, map);
    (stack, items, d.problems)
}

const TOP_FIELDS: &[&str] = &[
    "stack",
    "environment",
    "budget",
    "ttl",
    "expected",
    "timeouts",
    "limits",
    "hibernate",
    "resources",
];

/// What a YAML value is, in words (`a list`).
pub(super) fn type_name(v: &Yaml) -> &'static str {
    match v {
        Yaml::Null => "empty",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value (!Tag)",
    }
}

/// A scalar as text: strings, numbers and booleans.
pub(super) fn scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Decoder<'a> {
    loc: &'a Locator<'a>,
    problems: Vec<Problem>,
}

impl Decoder<'_> {
    fn push(&mut self, path: &[Seg], subject: Option<String>, message: String) {
        let line = self.loc.line(path);
        self.problems.push(Problem::new(line, subject, message));
    }

    /// Keys of `map` as strings, reporting the others and unknown ones.
    fn fields<'m>(
        &mut self,
        map: &'m Mapping,
        known: &[&str],
        path: &[Seg],
        subject: &Option<String>,
        what: &str,
    ) -> Vec<(String, &'m Yaml)> {
        let mut out = Vec::new();
        for (k, v) in map {
            let Some(name) = scalar(k) else {
                self.push(
                    path,
                    subject.clone(),
                    format!(
                        "{what} has a key that is {}; keys are plain names",
                        type_name(k)
                    ),
                );
                continue;
            };
            if known.contains(&name.as_str()) {
                out.push((name, v));
            } else {
                let mut p = path.to_vec();
                p.push(Seg::Key(&name));
                self.push(
                    &p,
                    subject.clone(),
                    format!(
                        "unknown field '{name}' in {what}{}; known fields: {}",
                        did_you_mean(&name, known.iter().copied()),
                        list(known.iter().copied())
                    ),
                );
            }
        }
        out
    }

    fn string(&mut self, v: &Yaml, path: &[Seg], subject: &Option<String>, what: &str) -> String {
        match scalar(v) {
            Some(s) => s,
            None => {
                self.push(
                    path,
                    subject.clone(),
                    format!("{what} is {}; write a plain value", type_name(v)),
                );
                String::new()
            }
        }
    }

    fn duration(&mut self, v: &Yaml, path: &[Seg], what: &str) -> Option<Duration> {
        let text = match v {
            Yaml::String(s) => s.clone(),
            other => {
                self.push(
                    path,
                    None,
                    format!(
                        "{what} is {}; write a duration with a unit, such as '90s', '15m' or '7d'",
                        type_name(other)
                    ),
                );
                return None;
            }
        };
        match humantime::parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.push(
                    path,
                    None,
                    format!(
                        "{what} '{text}' is not a duration ({e}); write one such as '90s', '15m', '1h 30m' or '7d'"
                    ),
                );
                None
            }
        }
    }

    fn stack(&mut self, path: &Path, map: &Mapping) -> (Stack, Vec<usize>) {
        let mut stack = Stack {
            path: path.to_path_buf(),
            name: String::new(),
            environment: DEFAULT_ENVIRONMENT.into(),
            budget: DEFAULT_BUDGET,
            ttl: None,
            expected: BTreeMap::new(),
            timeouts: BTreeMap::new(),
            limits: BTreeMap::new(),
            hibernate: None,
            resources: Vec::new(),
        };
        let mut items = Vec::new();
        let mut seen_stack = false;
        let mut seen_resources = false;
        for (name, v) in self.fields(map, TOP_FIELDS, &[], &None, "the stack") {
            let here = [Seg::Key(&name)];
            match name.as_str() {
                "stack" => {
                    seen_stack = true;
                    stack.name = self.string(v, &here, &None, "stack");
                }
                "environment" => stack.environment = self.string(v, &here, &None, "environment"),
                "budget" => {
                    if let Some(d) = self.duration(v, &here, "budget") {
                        stack.budget = d;
                    }
                }
                "ttl" => stack.ttl = self.duration(v, &here, "ttl"),
                "expected" => {
                    for (kind, dv) in self.map_entries(v, &here, "expected") {
                        let p = [Seg::Key("expected"), Seg::Key(&kind)];
                        if let Some(d) =
                            self.duration(dv, &p, &format!("expected duration of {kind}"))
                        {
                            stack.expected.insert(kind, d);
                        }
                    }
                }
                "timeouts" => {
                    for (kind, dv) in self.map_entries(v, &here, "timeouts") {
                        let p = [Seg::Key("timeouts"), Seg::Key(&kind)];
                        if let Some(d) = self.duration(dv, &p, &format!("timeout of {kind}")) {
                            stack.timeouts.insert(kind, d);
                        }
                    }
                }
                "limits" => {
                    for (api, lv) in self.map_entries(v, &here, "limits") {
                        let p = [Seg::Key("limits"), Seg::Key(&api)];
                        match lv.as_u64() {
                            Some(n) => {
                                stack.limits.insert(api, usize::try_from(n).unwrap_or(usize::MAX));
                            }
                            None => self.push(
                                &p,
                                None,
                                format!(
                                    "limits: '{api}' is {}; write a positive whole number of concurrent calls, such as `{api}: 4`",
                                    match lv {
                                        Yaml::Number(n) => format!("{n}"),
                                        other => type_name(other).to_string(),
                                    }
                                ),
                            ),
                        }
                    }
                }
                "hibernate" => stack.hibernate = self.hibernate(v),
                "resources" => {
                    seen_resources = true;
                    match v {
                        Yaml::Sequence(seq) => {
                            for (i, item) in seq.iter().enumerate() {
                                if let Some(r) = self.resource(i, item) {
                                    stack.resources.push(r);
                                    items.push(i);
                                }
                            }
                        }
                        Yaml::Null => {}
                        other => self.push(
                            &here,
                            None,
                            format!(
                                "resources is {}; write a list of resources, each starting with `- id: <name>`",
                                type_name(other)
                            ),
                        ),
                    }
                }
                _ => unreachable!("fields() keeps known names only"),
            }
        }
        if !seen_stack {
            self.problems.push(Problem::new(
                0,
                None,
                "the stack has no name: add `stack: <name>` at the top (e.g. `stack: tenant`)"
                    .into(),
            ));
        }
        if !seen_resources {
            self.problems.push(Problem::new(
                0,
                None,
                "the stack has no `resources:`; add a list of resources, each starting with `- id: <name>`".into(),
            ));
        }
        (stack, items)
    }

    /// `hibernate: { sleep: CRON, wake: CRON, time_zone: ZONE }`, checked
    /// (each problem at the line of its field).
    fn hibernate(&mut self, v: &Yaml) -> Option<crate::hibernate::Schedule> {
        const FIELDS: &[&str] = &["sleep", "wake", "time_zone"];
        let Yaml::Mapping(map) = v else {
            self.push(
                &[Seg::Key("hibernate")],
                None,
                format!(
                    "hibernate is {}; write a mapping such as `hibernate: {{ sleep: \"0 20 * * 1-5\", wake: \"0 7 * * 1-5\", time_zone: Europe/Madrid }}`",
                    type_name(v)
                ),
            );
            return None;
        };
        let mut spec = crate::hibernate::ScheduleSpec {
            sleep: String::new(),
            wake: None,
            time_zone: None,
        };
        for (name, fv) in self.fields(map, FIELDS, &[Seg::Key("hibernate")], &None, "hibernate") {
            let here = [Seg::Key("hibernate"), Seg::Key(&name)];
            let value = self.string(fv, &here, &None, &format!("hibernate.{name}"));
            match name.as_str() {
                "sleep" => spec.sleep = value,
                "wake" => spec.wake = Some(value),
                _ => spec.time_zone = Some(value),
            }
        }
        if spec.sleep.is_empty() {
            self.push(
                &[Seg::Key("hibernate")],
                None,
                "hibernate has no `sleep:`; add when tenants go to sleep, e.g. `sleep: \"0 20 * * 1-5\"`".into(),
            );
            return None;
        }
        match crate::hibernate::Schedule::parse(spec) {
            Ok(s) => Some(s),
            Err(e) => {
                self.push(
                    &[Seg::Key("hibernate"), Seg::Key(e.field)],
                    None,
                    format!("hibernate.{e}"),
                );
                None
            }
        }
    }

    /// Entries of a mapping of name -> value (`expected`, `limits`).
    fn map_entries<'m>(
        &mut self,
        v: &'m Yaml,
        path: &[Seg],
        what: &str,
    ) -> Vec<(String, &'m Yaml)> {
        match v {
            Yaml::Mapping(m) => {
                let mut out = Vec::new();
                for (k, v) in m {
                    match scalar(k) {
                        Some(k) => out.push((k, v)),
                        None => self.push(
                            path,
                            None,
                            format!(
                                "{what} has a key that is {}; keys are plain names",
                                type_name(k)
                            ),
                        ),
                    }
                }
                out
            }
            Yaml::Null => Vec::new(),
            other => {
                self.push(
                    path,
                    None,
                    format!(
                        "{what} is {}; write a mapping of name: value",
                        type_name(other)
                    ),
                );
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::stack::load::tests::{assert_has, edit, err, load};
    use crate::stack::model::{DEFAULT_BUDGET, DEFAULT_ENVIRONMENT};

    #[test]
    fn defaults_apply_when_optional_fields_are_absent() {
        let s = load("stack: t\nresources:\n- id: a\n  kind: aws.s3.bucket\n").unwrap();
        assert_eq!(s.environment, DEFAULT_ENVIRONMENT);
        assert_eq!(s.budget, DEFAULT_BUDGET);
        assert_eq!(s.ttl, None);
        assert_eq!(s.resources[0].line, 3);
    }

    #[test]
    fn unknown_top_level_field_suggests_the_known_one() {
        let msg = err(&edit("budget: 10m", "budgets: 10m"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:4: unknown field 'budgets' in the stack (did you mean 'budget'?)",
                "known fields: stack, environment",
            ],
        );
    }

    #[test]
    fn bad_durations_show_the_expected_shape() {
        let msg = err(&edit("budget: 10m", "budget: soon"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:4: budget 'soon' is not a duration",
                "such as '90s', '15m'",
            ],
        );
        let msg = err(&edit("budget: 10m", "budget: 900"));
        assert_has(
            &msg,
            &["stacks/tenant.yaml:4: budget is a number; write a duration with a unit"],
        );
        let msg = err(&edit("ttl: 7d", "ttl: 0s"));
        assert_has(
            &msg,
            &["stacks/tenant.yaml:5: ttl is zero: set a positive duration"],
        );
        let msg = err(&edit("aws.s3.bucket: 4s", "aws.s3.bucket: 4 sec onds"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:7: expected duration of aws.s3.bucket '4 sec onds' is not a duration",
            ],
        );
    }

    #[test]
    fn wrong_types_are_named() {
        let msg = err(&edit(
            "    properties:\n      versioning: true\n",
            "    properties: [versioning]\n",
        ));
        assert_has(
            &msg,
            &["stacks/tenant.yaml:13: resource 'uploads': properties is a list; write a mapping"],
        );
        let msg = err(&edit("depends_on: [uploads]", "depends_on: uploads"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:28: resource 'db': depends_on is a string; write a list of resource ids",
            ],
        );
        let msg = err("stack: t\nresources:\n  - uploads\n");
        assert_has(
            &msg,
            &["stacks/tenant.yaml:3: resource #1: is a string; each resource is a mapping"],
        );
    }
}
