//! Loading a stack file: YAML parsing, the shape of the document (known
//! fields, types, durations), line numbers of everything a message may point
//! at, and then validation (see `validate`). The only I/O is reading the file.
//!
//! serde_yaml_ng values carry no spans, so lines are found by scanning the
//! text's indentation structure ([`Locator`]): the line of `resources[3]`,
//! of `resources[3].properties.versioning`, and so on. Flow-style YAML
//! (`{...}`) falls back to the nearest enclosing line found.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value as Json;
use serde_yaml_ng::{Mapping, Value as Yaml};

use super::builtins::Builtins;
use super::model::{DEFAULT_BUDGET, DEFAULT_ENVIRONMENT, Publish, Resource, Stack};
use super::validate::{self, Catalog, did_you_mean, list};
use crate::envapi::Level;

/// One problem of a stack file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// `resource 'db'` (or `resource #3` when it has no id), if it is about one.
    pub subject: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Problem {
    pub fn new(line: usize, subject: Option<String>, message: String) -> Self {
        Self {
            line,
            subject,
            message,
        }
    }
}

/// Why a stack file cannot be used. Displays as complete messages, one
/// problem per line: `stacks/tenant.yaml:14: resource 'db': ... ; fix`.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{}: cannot read the stack file: {source}; check the path", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

impl StackError {
    /// Problems sorted by line (unknown lines last).
    pub fn invalid(path: &Path, mut problems: Vec<Problem>) -> Self {
        problems.sort_by_key(|p| if p.line == 0 { usize::MAX } else { p.line });
        StackError::Invalid {
            path: path.to_path_buf(),
            problems,
        }
    }

    pub fn problems(&self) -> &[Problem] {
        match self {
            StackError::Read { .. } => &[],
            StackError::Invalid { problems, .. } => problems,
        }
    }
}

fn render(path: &Path, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (n, p) in problems.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        out.push_str(&path.display().to_string());
        if p.line > 0 {
            out.push_str(&format!(":{}", p.line));
        }
        out.push_str(": ");
        if let Some(s) = &p.subject {
            out.push_str(s);
            out.push_str(": ");
        }
        out.push_str(&p.message);
    }
    out
}

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
    let mut d = Decoder {
        loc: &loc,
        problems: Vec::new(),
    };
    let (mut stack, items) = d.stack(path, &map);
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
    let mut items = items;
    let mut problems = d.problems;
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
    problems.extend(validate::check(&stack, catalog, &at));
    if problems.is_empty() {
        Ok(stack)
    } else {
        Err(StackError::invalid(path, problems))
    }
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
const RESOURCE_FIELDS: &[&str] = &["id", "kind", "properties", "depends_on", "publish"];
const PUBLISH_FIELDS: &[&str] = &["output", "key", "level", "service", "secret"];
const LEVELS: &[&str] = &["environment", "tenant", "service"];

fn type_name(v: &Yaml) -> &'static str {
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
fn scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// YAML to JSON for properties; `Err` names what cannot be converted.
fn to_json(v: &Yaml) -> Result<Json, String> {
    Ok(match v {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Json::Number)
                    .ok_or_else(|| format!("number {n} is not finite"))?
            }
        }
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Mapping(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let k = scalar(k).ok_or_else(|| format!("a key is {}", type_name(k)))?;
                out.insert(k, to_json(v)?);
            }
            Json::Object(out)
        }
        Yaml::Tagged(t) => return Err(format!("YAML tags such as {} are not supported", t.tag)),
    })
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

    fn resource(&mut self, i: usize, item: &Yaml) -> Option<Resource> {
        let base = [Seg::Key("resources"), Seg::Item(i)];
        let Yaml::Mapping(map) = item else {
            self.push(
                &base,
                Some(format!("resource #{}", i + 1)),
                format!(
                    "is {}; each resource is a mapping such as `- id: uploads` with `kind: aws.s3.bucket` below it",
                    type_name(item)
                ),
            );
            return None;
        };
        let id = map.get("id").and_then(scalar).filter(|s| !s.is_empty());
        let subject = Some(match &id {
            Some(id) => format!("resource '{id}'"),
            None => format!("resource #{}", i + 1),
        });
        let mut r = Resource {
            id: String::new(),
            kind: String::new(),
            properties: serde_json::Map::new(),
            depends_on: Vec::new(),
            publish: Vec::new(),
            line: 0,
        };
        for (name, v) in self.fields(map, RESOURCE_FIELDS, &base, &subject, "a resource") {
            let here = [base[0], base[1], Seg::Key(&name)];
            match name.as_str() {
                "id" => r.id = self.string(v, &here, &subject, "id"),
                "kind" => r.kind = self.string(v, &here, &subject, "kind"),
                "properties" => match v {
                    Yaml::Mapping(m) => {
                        for (k, pv) in m {
                            let Some(k) = scalar(k) else {
                                self.push(
                                    &here,
                                    subject.clone(),
                                    format!("a property name is {}; property names are plain names", type_name(k)),
                                );
                                continue;
                            };
                            match to_json(pv) {
                                Ok(j) => {
                                    r.properties.insert(k, j);
                                }
                                Err(e) => {
                                    let p = [base[0], base[1], Seg::Key("properties"), Seg::Key(&k)];
                                    self.push(
                                        &p,
                                        subject.clone(),
                                        format!("property '{k}': {e}; write plain YAML values"),
                                    );
                                }
                            }
                        }
                    }
                    Yaml::Null => {}
                    other => self.push(
                        &here,
                        subject.clone(),
                        format!("properties is {}; write a mapping of name: value", type_name(other)),
                    ),
                },
                "depends_on" => match v {
                    Yaml::Sequence(seq) => {
                        for (n, d) in seq.iter().enumerate() {
                            let p = [base[0], base[1], Seg::Key("depends_on"), Seg::Item(n)];
                            let d = self.string(d, &p, &subject, "a depends_on entry");
                            if !d.is_empty() {
                                r.depends_on.push(d);
                            }
                        }
                    }
                    Yaml::Null => {}
                    other => self.push(
                        &here,
                        subject.clone(),
                        format!(
                            "depends_on is {}; write a list of resource ids, such as `depends_on: [db, queue]`",
                            type_name(other)
                        ),
                    ),
                },
                "publish" => match v {
                    Yaml::Sequence(seq) => {
                        for (j, entry) in seq.iter().enumerate() {
                            if let Some(p) = self.publish(i, j, entry, &subject) {
                                r.publish.push(p);
                            }
                        }
                    }
                    Yaml::Null => {}
                    other => self.push(
                        &here,
                        subject.clone(),
                        format!(
                            "publish is {}; write a list such as `publish: [{{output: name, key: UPLOADS_BUCKET}}]`",
                            type_name(other)
                        ),
                    ),
                },
                _ => unreachable!("fields() keeps known names only"),
            }
        }
        Some(r)
    }

    fn publish(
        &mut self,
        i: usize,
        j: usize,
        entry: &Yaml,
        subject: &Option<String>,
    ) -> Option<Publish> {
        let base = [
            Seg::Key("resources"),
            Seg::Item(i),
            Seg::Key("publish"),
            Seg::Item(j),
        ];
        let what = format!("publish entry #{}", j + 1);
        let Yaml::Mapping(map) = entry else {
            self.push(
                &base,
                subject.clone(),
                format!(
                    "{what} is {}; write a mapping such as `{{output: name, key: UPLOADS_BUCKET}}`",
                    type_name(entry)
                ),
            );
            return None;
        };
        let mut output = String::new();
        let mut key = String::new();
        let mut level: Option<String> = None;
        let mut service: Option<String> = None;
        let mut secret = false;
        for (name, v) in self.fields(map, PUBLISH_FIELDS, &base, subject, &what) {
            let here = [base[0], base[1], base[2], base[3], Seg::Key(&name)];
            match name.as_str() {
                "output" => output = self.string(v, &here, subject, &format!("{what}: output")),
                "key" => key = self.string(v, &here, subject, &format!("{what}: key")),
                "level" => level = Some(self.string(v, &here, subject, &format!("{what}: level"))),
                "service" => {
                    service = Some(self.string(v, &here, subject, &format!("{what}: service")))
                }
                "secret" => match v {
                    Yaml::Bool(b) => secret = *b,
                    other => self.push(
                        &here,
                        subject.clone(),
                        format!(
                            "{what}: secret is {}; write `secret: true` or `secret: false`",
                            type_name(other)
                        ),
                    ),
                },
                _ => unreachable!("fields() keeps known names only"),
            }
        }
        let at = |f| [base[0], base[1], base[2], base[3], Seg::Key(f)];
        let level = match (level.as_deref(), service) {
            (None | Some("tenant"), None) => Level::Tenant,
            (Some("environment"), None) => Level::Environment,
            (Some("service"), Some(s)) => Level::Service(s),
            (Some("service"), None) => {
                self.push(
                    &at("level"),
                    subject.clone(),
                    format!(
                        "{what}: level service needs the service's name: add `service: <name>`"
                    ),
                );
                Level::Service(String::new())
            }
            (l @ (None | Some("environment" | "tenant")), Some(_)) => {
                self.push(
                    &at("service"),
                    subject.clone(),
                    format!(
                        "{what}: `service:` only goes with `level: service` (the level here is {}); add `level: service` or remove `service:`",
                        l.unwrap_or("tenant, the default")
                    ),
                );
                Level::Tenant
            }
            (Some(other), _) => {
                self.push(
                    &at("level"),
                    subject.clone(),
                    format!(
                        "{what}: level '{other}' is unknown{}; use one of: {}",
                        did_you_mean(other, LEVELS.iter().copied()),
                        list(LEVELS.iter().copied())
                    ),
                );
                Level::Tenant
            }
        };
        Some(Publish {
            output,
            key,
            level,
            secret,
        })
    }
}

/// A step of a path into the document: a mapping key or a list index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Item(usize),
}

/// One meaningful (non-blank, non-comment) line of the text.
#[derive(Debug)]
struct Line {
    /// 1-based line number.
    no: usize,
    indent: usize,
    /// Starts with `- `: a list item.
    item: bool,
    /// Column of the content (after `- ` for items); `None` for a bare `-`.
    col: Option<usize>,
    /// The mapping key on this line, if any.
    key: Option<String>,
}

/// Finds the line of a path (`resources[2].properties.x`) in YAML text by
/// its indentation structure.
pub(crate) struct Locator<'t> {
    lines: Vec<Line>,
    text: &'t str,
}

impl<'t> Locator<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        let mut lines = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let trimmed = raw.trim_start_matches(' ');
            if trimmed.trim().is_empty()
                || trimmed.starts_with('#')
                || trimmed.starts_with("---")
                || trimmed.starts_with("...")
            {
                continue;
            }
            let indent = raw.len() - trimmed.len();
            let (item, col, content) = match trimmed.strip_prefix('-') {
                Some(after) if after.is_empty() || after.starts_with([' ', '\t']) => {
                    let inner = after.trim_start();
                    if inner.is_empty() || inner.starts_with('#') {
                        (true, None, "")
                    } else {
                        (true, Some(indent + 1 + after.len() - inner.len()), inner)
                    }
                }
                _ => (false, Some(indent), trimmed),
            };
            lines.push(Line {
                no: n + 1,
                indent,
                item,
                col,
                key: key_of(content),
            });
        }
        Self { lines, text }
    }

    /// The line of `path`, or of the deepest prefix of it that was found;
    /// 0 when not even the first step was found.
    pub(crate) fn line(&self, path: &[Seg]) -> usize {
        self.walk(path).0
    }

    /// The lines of every item of the list at `path` (empty when there is
    /// no block-style list there): one pass for all resources.
    pub(crate) fn items(&self, path: &[Seg]) -> Vec<usize> {
        let (_, steps, (lo, hi)) = self.walk(path);
        if steps < path.len() || lo >= hi || !self.lines[lo].item {
            return Vec::new();
        }
        let d = self.lines[lo].indent;
        self.lines[lo..hi]
            .iter()
            .filter(|l| l.item && l.indent == d)
            .map(|l| l.no)
            .collect()
    }

    /// The line of the deepest prefix found, how many steps it has, and the
    /// range of lines below it.
    fn walk(&self, path: &[Seg]) -> (usize, usize, (usize, usize)) {
        let (mut lo, mut hi) = (0, self.lines.len());
        let mut best = 0;
        let mut steps = 0;
        for seg in path {
            if lo >= hi {
                break;
            }
            match *seg {
                Seg::Key(k) => {
                    let col = match self.lines[lo].col {
                        Some(c) => Some(c),
                        None => self.lines.get(lo + 1).and_then(|l| l.col),
                    };
                    let Some(j) = (lo..hi).find(|&j| {
                        self.lines[j].col == col && self.lines[j].key.as_deref() == Some(k)
                    }) else {
                        break;
                    };
                    best = self.lines[j].no;
                    let c = self.lines[j].col.unwrap_or(0);
                    let end = (j + 1..hi)
                        .find(|&e| {
                            let l = &self.lines[e];
                            l.indent < c || (l.indent == c && !l.item)
                        })
                        .unwrap_or(hi);
                    (lo, hi) = (j + 1, end);
                }
                Seg::Item(n) => {
                    let first = &self.lines[lo];
                    if !first.item {
                        break;
                    }
                    let d = first.indent;
                    let starts: Vec<usize> = (lo..hi)
                        .filter(|&j| self.lines[j].item && self.lines[j].indent == d)
                        .collect();
                    let Some(&j) = starts.get(n) else {
                        break;
                    };
                    best = self.lines[j].no;
                    (lo, hi) = (j, starts.get(n + 1).copied().unwrap_or(hi));
                }
            }
            steps += 1;
        }
        (best, steps, (lo, hi))
    }

    /// The line of the `nth` (0-based) `id: <id>` in the text, 0 if none:
    /// a fallback for resources written in flow style.
    pub(crate) fn id_line(&self, id: &str, nth: usize) -> usize {
        let mut seen = 0;
        for (n, line) in self.text.lines().enumerate() {
            let mut rest = line;
            while let Some(pos) = rest.find("id:") {
                let before = rest[..pos].chars().last();
                let value = rest[pos + 3..]
                    .trim_start()
                    .split([',', '}', '#', ' '])
                    .next()
                    .unwrap_or("")
                    .trim_matches(['"', '\'']);
                if matches!(before, None | Some(' ' | '{' | ',' | '-')) && value == id {
                    if seen == nth {
                        return n + 1;
                    }
                    seen += 1;
                }
                rest = &rest[pos + 3..];
            }
        }
        0
    }
}

/// The mapping key at the start of `content` (`key: value`, `"key": value`,
/// `key:`), if any.
fn key_of(content: &str) -> Option<String> {
    if let Some(q) = content.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let close = content[1..].find(q)? + 1;
        let after = &content[close + 1..];
        let after = after.strip_prefix(':')?;
        return (after.is_empty() || after.starts_with([' ', '\t']))
            .then(|| content[1..close].to_string());
    }
    if content.starts_with(['{', '[', '&', '*', '!', '|', '>']) {
        return None;
    }
    let bytes = content.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && i > 0 && bytes[i - 1] == b' ' {
            return None;
        }
        if b == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' ' || bytes[i + 1] == b'\t') {
            let key = content[..i].trim_end();
            return (!key.is_empty()).then(|| key.to_string());
        }
    }
    None
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        if let Some(s) = &self.subject {
            write!(f, "{s}: ")?;
        }
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::validate::tests::catalog;

    const FILE: &str = "stacks/tenant.yaml";

    /// A valid stack; line numbers are noted for the tests that break it.
    const GOOD: &str = "\
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

    fn load(text: &str) -> Result<Stack, StackError> {
        load_str_with(Path::new(FILE), text, &catalog())
    }

    /// The error message of `text`, which must fail.
    fn err(text: &str) -> String {
        match load(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    /// `text` with `from` replaced by `to` (which must occur).
    fn edit(from: &str, to: &str) -> String {
        assert!(GOOD.contains(from), "{from}");
        GOOD.replacen(from, to, 1)
    }

    #[track_caller]
    fn assert_has(msg: &str, parts: &[&str]) {
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
    fn defaults_apply_when_optional_fields_are_absent() {
        let s = load("stack: t\nresources:\n- id: a\n  kind: aws.s3.bucket\n").unwrap();
        assert_eq!(s.environment, DEFAULT_ENVIRONMENT);
        assert_eq!(s.budget, DEFAULT_BUDGET);
        assert_eq!(s.ttl, None);
        assert_eq!(s.resources[0].line, 3);
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
    fn unknown_field_in_a_resource_is_named_with_its_id() {
        let msg = err(&edit("    depends_on: [uploads]", "    depends: [uploads]"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:28: resource 'db': unknown field 'depends' in a resource (did you mean 'depends_on'?)",
            ],
        );
    }

    #[test]
    fn unknown_field_in_a_publish_entry_is_named() {
        let msg = err(&edit(
            "        key: UPLOADS_BUCKET",
            "        key: UPLOADS_BUCKET\n        secrett: true",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:18: resource 'uploads': unknown field 'secrett' in publish entry #1 (did you mean 'secret'?)",
            ],
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
    fn service_level_and_service_name_go_together() {
        let msg = err(&edit(", service: billing", ""));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:21: resource 'db-password': publish entry #1: level service needs the service's name: add `service: <name>`",
            ],
        );
        let msg = err(&edit(
            "        key: UPLOADS_BUCKET\n",
            "        key: UPLOADS_BUCKET\n        service: billing\n",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:18: resource 'uploads': publish entry #1: `service:` only goes with `level: service`",
                "add `level: service` or remove `service:`",
            ],
        );
        let msg = err(&edit("service: billing", "service: common"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:21: resource 'db-password': publish entry #1: service name 'common' is malformed",
                "fix `service:`",
            ],
        );
        let msg = err(&edit("level: service", "level: servce"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:21:",
                "level 'servce' is unknown (did you mean 'service'?); use one of: environment, tenant, service",
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
        let msg = err("- a\n- b\n");
        assert_has(&msg, &["stacks/tenant.yaml:1: the top level is a list"]);
        let msg = err("# nothing\n");
        assert_has(&msg, &["stacks/tenant.yaml: the file is empty"]);
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
    fn locator_follows_common_yaml_layouts() {
        let text = "\
resources:
- id: a            # dash at the key's column
  properties:
    \"quoted\": 1
    url: http://x:80/y
-
  id: b            # bare dash
  publish:
  - output: o
    key: K
  -   output: p
      key: L
";
        let loc = Locator::new(text);
        let l = |p: &[Seg]| loc.line(p);
        use Seg::{Item, Key};
        assert_eq!(l(&[Key("resources"), Item(0)]), 2);
        assert_eq!(
            l(&[Key("resources"), Item(0), Key("properties"), Key("quoted")]),
            4
        );
        assert_eq!(
            l(&[Key("resources"), Item(0), Key("properties"), Key("url")]),
            5
        );
        assert_eq!(l(&[Key("resources"), Item(1)]), 6);
        assert_eq!(l(&[Key("resources"), Item(1), Key("id")]), 7);
        assert_eq!(
            l(&[
                Key("resources"),
                Item(1),
                Key("publish"),
                Item(1),
                Key("key")
            ]),
            12
        );
        // Not found: the deepest line found.
        assert_eq!(l(&[Key("resources"), Item(1), Key("publish"), Item(5)]), 8);
        assert_eq!(l(&[Key("resources"), Item(0), Key("publish")]), 2);
        assert_eq!(l(&[Key("nothing")]), 0);
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
}
