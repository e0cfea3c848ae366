//! Validation of a stack against the kinds: ids, kinds, properties,
//! `${id.output}` references, `depends_on`, publish entries, durations,
//! limits and cycles. Every problem names the resource and the fix, with a
//! "did you mean" where a near name exists. Pure: the kinds come in as a
//! [`Catalog`].

use std::collections::{BTreeSet, HashMap};

use super::load::{Problem, Seg, StackError};
use super::model::{Publish, Stack, WaitFrom};
use super::refs;
use crate::envapi::{KeyError, Level, valid_key_name};
use crate::graph::{CycleError, Graph};
use crate::kinds::{Kind, OutputSpec, PropSpec, all_kinds};

/// Longest resource id (and stack name) accepted.
pub const MAX_ID_LEN: usize = 40;

/// The kind whose value lives only in the value store, so it must publish.
pub const SECRET_PASSWORD: &str = "secret.password";

/// What validation needs to know of a kind.
#[derive(Clone, Copy, Debug)]
pub struct KindInfo {
    pub name: &'static str,
    /// The kind itself, for its literal-value rules ([`Kind::check`]);
    /// `None` for kinds described only by their specs (tests).
    pub kind: Option<KindRef>,
    pub api: &'static str,
    pub props: &'static [PropSpec],
    pub outputs: &'static [OutputSpec],
}

impl KindInfo {
    pub fn of(kind: &'static dyn Kind) -> Self {
        Self {
            name: kind.name(),
            kind: Some(KindRef(kind)),
            api: kind.api(),
            props: kind.props(),
            outputs: kind.outputs(),
        }
    }

    pub fn output(&self, name: &str) -> Option<&'static OutputSpec> {
        self.outputs.iter().find(|o| o.name == name)
    }
}

/// A kind of the registry, printable by name.
#[derive(Clone, Copy)]
pub struct KindRef(pub &'static dyn Kind);

impl std::fmt::Debug for KindRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}

/// The kinds a stack is validated against.
#[derive(Clone, Debug)]
pub struct Catalog {
    kinds: Vec<KindInfo>,
}

impl Catalog {
    /// Every kind of the registry.
    pub fn registry() -> Self {
        Self::new(all_kinds().iter().map(|k| KindInfo::of(*k)).collect())
    }

    pub fn new(kinds: Vec<KindInfo>) -> Self {
        Self { kinds }
    }

    pub fn get(&self, name: &str) -> Option<&KindInfo> {
        self.kinds.iter().find(|k| k.name == name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.name).collect()
    }

    /// The cloud APIs the kinds share concurrency bounds on.
    pub fn apis(&self) -> BTreeSet<&'static str> {
        self.kinds.iter().map(|k| k.api).collect()
    }
}

/// `[a-z][a-z0-9-]*`, at most [`MAX_ID_LEN`] characters.
pub fn valid_id(id: &str) -> bool {
    id.len() <= MAX_ID_LEN
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// How an id must look, for messages.
pub const ID_RULE: &str =
    "use 1-40 characters of a-z, 0-9 and '-', starting with a letter (e.g. 'uploads-bucket')";

/// A value-store path segment: `[a-z0-9-]+`, not `common`.
fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "common"
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub use crate::suggest::{did_you_mean, suggest};

/// `a, b, c` or `none`.
pub fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let v: Vec<&str> = items.into_iter().collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Validates a stack built in code (not loaded from text) against the kind
/// registry; lines come from each resource's `line`.
pub fn validate(stack: &Stack) -> Result<(), StackError> {
    validate_with(stack, &Catalog::registry())
}

/// [`validate`] against the given kinds.
pub fn validate_with(stack: &Stack, catalog: &Catalog) -> Result<(), StackError> {
    let at = |res: Option<usize>, _: &[Seg]| res.map_or(0, |i| stack.resources[i].line);
    let problems = check(stack, catalog, &at);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StackError::invalid(&stack.path, problems))
    }
}

/// Where something is: `at(Some(i), path)` is the line of `path` inside the
/// i-th resource, `at(None, path)` of a top-level path; 0 when unknown.
pub(crate) type At<'a> = dyn Fn(Option<usize>, &[Seg]) -> usize + 'a;

/// Every problem of `stack` (not sorted).
pub(crate) fn check(stack: &Stack, catalog: &Catalog, at: &At) -> Vec<Problem> {
    let mut index = HashMap::with_capacity(stack.resources.len());
    for (i, r) in stack.resources.iter().enumerate() {
        if !r.id.is_empty() {
            index.entry(r.id.as_str()).or_insert(i);
        }
    }
    let mut c = Checker {
        stack,
        catalog,
        at,
        index,
        problems: Vec::new(),
    };
    c.top_level();
    c.resources();
    c.cycles();
    c.problems
}

struct Checker<'a> {
    stack: &'a Stack,
    catalog: &'a Catalog,
    at: &'a At<'a>,
    /// First resource of each id.
    index: HashMap<&'a str, usize>,
    problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    fn top(&mut self, path: &[Seg], message: String) {
        let line = (self.at)(None, path);
        self.problems.push(Problem::new(line, None, message));
    }

    fn res(&mut self, i: usize, path: &[Seg], message: String) {
        let r = &self.stack.resources[i];
        let line = (self.at)(Some(i), path);
        let line = if line == 0 { r.line } else { line };
        let subject = if r.id.is_empty() {
            format!("resource #{}", i + 1)
        } else {
            format!("resource '{}'", r.id)
        };
        self.problems
            .push(Problem::new(line, Some(subject), message));
    }

    fn top_level(&mut self) {
        let s = self.stack;
        if !s.name.is_empty() && !valid_id(&s.name) {
            self.top(
                &[Seg::Key("stack")],
                format!("stack name '{}' is invalid: {ID_RULE}", s.name),
            );
        }
        if !valid_segment(&s.environment) {
            self.top(
                &[Seg::Key("environment")],
                format!(
                    "{}; fix `environment:`",
                    KeyError::BadEnvironment(s.environment.clone())
                ),
            );
        }
        if s.budget.is_zero() {
            self.top(
                &[Seg::Key("budget")],
                "budget is zero: set a positive duration such as `budget: 15m`".into(),
            );
        }
        if s.ttl.is_some_and(|t| t.is_zero()) {
            self.top(
                &[Seg::Key("ttl")],
                "ttl is zero: set a positive duration such as `ttl: 7d`, or remove it".into(),
            );
        }
        let names = self.catalog.names();
        let per_kind = s
            .expected
            .keys()
            .map(|k| ("expected", k))
            .chain(s.timeouts.keys().map(|k| ("timeouts", k)));
        for (section, kind) in per_kind {
            if self.catalog.get(kind).is_none() {
                self.top(
                    &[Seg::Key(section), Seg::Key(kind)],
                    format!(
                        "{section}: kind '{kind}' is unknown{}; known kinds: {}",
                        did_you_mean(kind, names.iter().copied()),
                        list(names.iter().copied())
                    ),
                );
            }
        }
        let apis = self.catalog.apis();
        for (api, n) in &s.limits {
            if *n == 0 {
                self.top(
                    &[Seg::Key("limits"), Seg::Key(api)],
                    format!("limits: '{api}' is 0, which would never run anything; set a positive number or remove it"),
                );
            }
            if !apis.contains(api.as_str()) {
                self.top(
                    &[Seg::Key("limits"), Seg::Key(api)],
                    format!(
                        "limits: API '{api}' is unknown{}; known APIs: {}",
                        did_you_mean(api, apis.iter().copied()),
                        list(apis.iter().copied())
                    ),
                );
            }
        }
    }

    fn resources(&mut self) {
        let stack = self.stack;
        let mut first: HashMap<&str, usize> = HashMap::new();
        // (level, key) -> (resource index, publish index)
        let mut published: HashMap<(&Level, &str), (usize, usize)> = HashMap::new();
        for (i, r) in stack.resources.iter().enumerate() {
            if r.id.is_empty() {
                self.res(
                    i,
                    &[],
                    "has no `id:`; add `id: <name>` (a-z, 0-9 and '-', starting with a letter)"
                        .into(),
                );
            } else if !valid_id(&r.id) {
                self.res(
                    i,
                    &[Seg::Key("id")],
                    format!("id '{}' is invalid: {ID_RULE}", r.id),
                );
            } else if let Some(&j) = first.get(r.id.as_str()) {
                let other = (self.at)(Some(j), &[]).max(stack.resources[j].line);
                let this = (self.at)(Some(i), &[]).max(r.line);
                self.res(
                    i,
                    &[Seg::Key("id")],
                    format!(
                        "id '{}' is declared twice (lines {other} and {this}); give each resource a unique id",
                        r.id
                    ),
                );
            } else {
                first.insert(&r.id, i);
            }

            let kind = self.kind(i);
            self.properties(i, kind);
            self.depends_on(i);
            self.wait_for(i);
            self.publish(i, kind, &mut published);
        }
    }

    /// Checks the kind of resource `i`; its info when known.
    fn kind(&mut self, i: usize) -> Option<KindInfo> {
        let r = &self.stack.resources[i];
        if let Some(info) = self.catalog.get(&r.kind) {
            return Some(*info);
        }
        let names = self.catalog.names();
        if r.kind.is_empty() {
            self.res(
                i,
                &[],
                format!(
                    "has no `kind:`; add `kind: <kind>` (known kinds: {})",
                    list(names.iter().copied())
                ),
            );
            return None;
        }
        self.res(
            i,
            &[Seg::Key("kind")],
            format!(
                "kind '{}' is unknown{}; known kinds: {}",
                r.kind,
                did_you_mean(&r.kind, names.iter().copied()),
                list(names.iter().copied())
            ),
        );
        None
    }

    /// Resource ids, for suggestions.
    fn ids(&self) -> Vec<&'a str> {
        let stack: &'a Stack = self.stack;
        stack
            .resources
            .iter()
            .map(|r| r.id.as_str())
            .filter(|id| !id.is_empty())
            .collect()
    }

    fn properties(&mut self, i: usize, kind: Option<KindInfo>) {
        let r = &self.stack.resources[i];
        if let Some(k) = kind {
            let known = || k.props.iter().map(|p| p.name);
            for name in r.properties.keys() {
                if !known().any(|p| p == name) {
                    let hint = if k.props.is_empty() {
                        format!("kind {} takes no properties; remove it", k.name)
                    } else {
                        format!("known properties: {}", list(known()))
                    };
                    self.res(
                        i,
                        &[Seg::Key("properties"), Seg::Key(name)],
                        format!(
                            "property '{name}' is unknown for kind {}{}; {hint}",
                            k.name,
                            did_you_mean(name, known())
                        ),
                    );
                }
            }
            for p in k.props.iter().filter(|p| p.required) {
                if !r.properties.contains_key(p.name) {
                    self.res(
                        i,
                        &[Seg::Key("properties")],
                        format!(
                            "property '{}' is required for kind {}: add `{}: ...` under `properties:` ({})",
                            p.name,
                            k.name,
                            p.name,
                            crate::kinds::schema::first_sentence(p.doc)
                        ),
                    );
                }
            }
        }
        if let Some(KindRef(k)) = kind.and_then(|k| k.kind) {
            for issue in k.check(&r.properties) {
                let mut path = vec![Seg::Key("properties")];
                path.extend(issue.path.iter().map(|p| match p.parse::<usize>() {
                    Ok(n) => Seg::Item(n),
                    Err(_) => Seg::Key(p),
                }));
                self.res(i, &path, issue.sentence());
            }
        }
        for (name, value) in &r.properties {
            let path = [Seg::Key("properties"), Seg::Key(name)];
            let found = match refs::references(value) {
                Ok(found) => found,
                Err(e) => {
                    self.res(i, &path, format!("property '{name}': {e}"));
                    continue;
                }
            };
            for reference in found {
                if reference.resource == r.id {
                    self.res(
                        i,
                        &path,
                        format!(
                            "property '{name}': reference {reference} points at the resource itself; a resource cannot use its own outputs, remove the reference"
                        ),
                    );
                    continue;
                }
                let Some(&j) = self.index.get(reference.resource.as_str()) else {
                    self.res(
                        i,
                        &path,
                        format!(
                            "property '{name}': reference {reference} names no resource '{}'{}; declare a resource with that id or fix the reference",
                            reference.resource,
                            did_you_mean(&reference.resource, self.ids())
                        ),
                    );
                    continue;
                };
                let target = &self.stack.resources[j];
                if let Some(tk) = self.catalog.get(&target.kind).copied()
                    && tk.output(&reference.output).is_none()
                {
                    let outs = || tk.outputs.iter().map(|o| o.name);
                    self.res(
                        i,
                        &path,
                        format!(
                            "property '{name}': reference {reference}: kind {} of resource '{}' has no output '{}'{}; its outputs: {}",
                            tk.name,
                            target.id,
                            reference.output,
                            did_you_mean(&reference.output, outs()),
                            list(outs())
                        ),
                    );
                }
            }
        }
    }

    fn depends_on(&mut self, i: usize) {
        let r = &self.stack.resources[i];
        for (n, d) in r.depends_on.iter().enumerate() {
            let path = [Seg::Key("depends_on"), Seg::Item(n)];
            if *d == r.id {
                self.res(
                    i,
                    &path,
                    format!("depends_on '{d}' is the resource itself; remove it from depends_on"),
                );
            } else if !self.index.contains_key(d.as_str()) {
                self.res(
                    i,
                    &path,
                    format!(
                        "depends_on '{d}' names no resource{}; declare it or fix the id",
                        did_you_mean(d, self.ids())
                    ),
                );
            }
        }
    }

    /// `wait_for:` entries and `until:`s of `depends_on` entries: each names
    /// a dependency of the resource (what it references or lists in
    /// `depends_on`), and one dependency gets one answer.
    fn wait_for(&mut self, i: usize) {
        let r = &self.stack.resources[i];
        let deps = dependencies_of(r);
        fn path_of(w: &super::model::Wait) -> Vec<Seg<'_>> {
            match w.from {
                WaitFrom::DependsOn(n) => {
                    vec![Seg::Key("depends_on"), Seg::Item(n), Seg::Key("until")]
                }
                WaitFrom::WaitFor => vec![Seg::Key("wait_for"), Seg::Key(&w.resource)],
            }
        }
        for (n, w) in r.wait_for.iter().enumerate() {
            let path = path_of(w);
            // A depends_on entry's id is checked with depends_on.
            if w.from == WaitFrom::WaitFor {
                let d = &w.resource;
                if *d == r.id {
                    self.res(
                        i,
                        &path,
                        format!("wait_for '{d}' is the resource itself; remove it from wait_for"),
                    );
                    continue;
                }
                if !self.index.contains_key(d.as_str()) {
                    self.res(
                        i,
                        &path,
                        format!(
                            "wait_for '{d}' names no resource{}; declare it or fix the id",
                            did_you_mean(d, self.ids())
                        ),
                    );
                    continue;
                }
                if !deps.contains(d) {
                    let mine: Vec<&str> = deps
                        .iter()
                        .map(String::as_str)
                        .filter(|x| *x != r.id)
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    let known = if mine.is_empty() {
                        "it depends on nothing".to_string()
                    } else {
                        format!("its dependencies: {}", list(mine.iter().copied()))
                    };
                    self.res(
                        i,
                        &path,
                        format!(
                            "wait_for '{d}' is not a dependency of this resource{} ({known}); wait_for only says how long to wait for a resource it references (${{{d}.<output>}}) or lists in depends_on: add the reference or `depends_on: [{d}]`, or remove the entry",
                            did_you_mean(d, mine.iter().copied())
                        ),
                    );
                    continue;
                }
            }
            if let Some(other) = r.wait_for[..n]
                .iter()
                .find(|o| o.resource == w.resource && o.until != w.until)
            {
                let line = (self.at)(Some(i), &path_of(other));
                let there = if line > 0 {
                    format!(" on line {line}")
                } else {
                    String::new()
                };
                self.res(
                    i,
                    &path,
                    format!(
                        "'{}' is waited for until {} here but until {}{there}; keep one of the two",
                        w.resource,
                        w.until.as_str(),
                        other.until.as_str(),
                    ),
                );
            }
        }
    }

    fn publish(
        &mut self,
        i: usize,
        kind: Option<KindInfo>,
        published: &mut HashMap<(&'a Level, &'a str), (usize, usize)>,
    ) {
        let stack: &'a Stack = self.stack;
        let r = &stack.resources[i];
        if r.kind == SECRET_PASSWORD && r.publish.is_empty() {
            let out = kind
                .and_then(|k| k.outputs.iter().find(|o| o.secret))
                .map_or("value", |o| o.name);
            self.res(
                i,
                &[],
                format!(
                    "a {SECRET_PASSWORD} resource must publish its value: the generated password lives only in the value store (never in state, logs or output), so unpublished nothing could ever read it; add `publish: [{{output: {out}, key: DB_PASSWORD, secret: true}}]`"
                ),
            );
        }
        for (j, p) in r.publish.iter().enumerate() {
            let field = |f| [Seg::Key("publish"), Seg::Item(j), Seg::Key(f)];
            let entry = format!("publish entry #{}", j + 1);
            self.publish_output(i, &entry, kind, p, &field("output"));
            if p.key.is_empty() {
                self.res(
                    i,
                    &[Seg::Key("publish"), Seg::Item(j)],
                    format!("{entry} has no `key:`; add `key: <KEY>` (e.g. UPLOADS_BUCKET)"),
                );
            } else if !valid_key_name(&p.key) {
                self.res(
                    i,
                    &field("key"),
                    format!("{entry}: {}", KeyError::BadKey(p.key.clone())),
                );
            } else if let Some(&(i2, j2)) = published.get(&(&p.level, p.key.as_str())) {
                let other = &stack.resources[i2];
                let line = (self.at)(
                    Some(i2),
                    &[Seg::Key("publish"), Seg::Item(j2), Seg::Key("key")],
                )
                .max(other.line);
                self.res(
                    i,
                    &field("key"),
                    format!(
                        "{entry}: KEY '{}' is already published at the {} level by resource '{}' (line {line}); use another KEY or level",
                        p.key,
                        p.level.describe(),
                        other.id
                    ),
                );
            } else {
                published.insert((&p.level, &p.key), (i, j));
            }
            if let Level::Service(svc) = &p.level
                && !valid_segment(svc)
            {
                self.res(
                    i,
                    &field("service"),
                    format!(
                        "{entry}: {}; fix `service:`",
                        KeyError::BadService(svc.clone())
                    ),
                );
            }
        }
    }

    fn publish_output(
        &mut self,
        i: usize,
        entry: &str,
        kind: Option<KindInfo>,
        p: &Publish,
        path: &[Seg],
    ) {
        let outs = |k: &KindInfo| list(k.outputs.iter().map(|o| o.name));
        if p.output.is_empty() {
            let hint = kind.map_or(String::new(), |k| {
                format!(" (outputs of kind {}: {})", k.name, outs(&k))
            });
            self.res(
                i,
                &path[..2],
                format!("{entry} has no `output:`; add `output: <name>`{hint}"),
            );
            return;
        }
        let Some(k) = kind else { return };
        match k.output(&p.output) {
            None => self.res(
                i,
                path,
                format!(
                    "{entry}: output '{}' is not an output of kind {}{}; its outputs: {}",
                    p.output,
                    k.name,
                    did_you_mean(&p.output, k.outputs.iter().map(|o| o.name)),
                    outs(&k)
                ),
            ),
            Some(o) if o.secret && !p.secret => self.res(
                i,
                path,
                format!(
                    "{entry}: output '{}' of kind {} is secret; add `secret: true` to this entry so the value is stored encrypted and never printed",
                    p.output, k.name
                ),
            ),
            Some(_) => {}
        }
    }

    /// Cycles over the edges that passed the checks above, each with the
    /// reference or `depends_on` behind every step.
    fn cycles(&mut self) {
        let stack = self.stack;
        let mut nodes = Vec::new();
        let mut seen = BTreeSet::new();
        for r in &stack.resources {
            if !r.id.is_empty() && seen.insert(r.id.as_str()) {
                nodes.push((r.id.clone(), r.kind.clone()));
            }
        }
        let mut edges = Vec::new();
        for r in &stack.resources {
            for d in dependencies_of(r) {
                if d != r.id {
                    edges.push((d, r.id.clone()));
                }
            }
        }
        let Err(CycleError { cycles }) = Graph::from_edges(nodes, edges) else {
            return;
        };
        for cycle in cycles {
            let steps: Vec<String> = cycle
                .iter()
                .zip(cycle.iter().cycle().skip(1))
                .map(|(a, b)| self.why(a, b))
                .collect();
            let i = stack
                .resources
                .iter()
                .position(|r| r.id == cycle[0])
                .expect("cycle members are resources");
            self.res(
                i,
                &[],
                format!(
                    "dependency cycle {} ('a -> b' means a depends on b): {}; remove one of these to break the cycle",
                    CycleError::chain(&cycle),
                    steps.join(", ")
                ),
            );
        }
    }

    /// Why `a` depends on `b`: `a uses ${b.x} in property 'p' (line n)` or
    /// `a depends_on b (line n)`.
    fn why(&self, a: &str, b: &str) -> String {
        let stack = self.stack;
        let Some(&i) = self.index.get(a) else {
            return format!("{a} depends on {b}");
        };
        let r = &stack.resources[i];
        for (name, value) in &r.properties {
            if let Some(reference) = refs::references(value)
                .unwrap_or_default()
                .into_iter()
                .find(|x| x.resource == b)
            {
                let line = (self.at)(Some(i), &[Seg::Key("properties"), Seg::Key(name)]);
                return format!("{a} uses {reference} in property '{name}'{}", on_line(line));
            }
        }
        let n = r.depends_on.iter().position(|d| d == b).unwrap_or(0);
        let line = (self.at)(Some(i), &[Seg::Key("depends_on"), Seg::Item(n)]);
        format!("{a} depends_on {b}{}", on_line(line))
    }
}

fn on_line(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(" (line {line})")
    }
}

/// Ids a resource depends on: its references and `depends_on`, unchecked.
fn dependencies_of(r: &super::Resource) -> Vec<String> {
    let mut out: Vec<String> = r
        .properties
        .values()
        .flat_map(|v| refs::references(v).unwrap_or_default())
        .map(|x| x.resource)
        .collect();
    out.extend(r.depends_on.iter().cloned());
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const fn prop(name: &'static str, required: bool) -> PropSpec {
        PropSpec {
            name,
            required,
            doc: "test property",
        }
    }

    const fn out(name: &'static str, secret: bool) -> OutputSpec {
        OutputSpec {
            name,
            secret,
            doc: "test output",
        }
    }

    static BUCKET_PROPS: &[PropSpec] = &[prop("versioning", false), prop("public", false)];
    static BUCKET_OUTS: &[OutputSpec] = &[out("name", false), out("arn", false)];
    static RDS_PROPS: &[PropSpec] = &[
        prop("instance_class", true),
        prop("engine", true),
        prop("password", false),
    ];
    static RDS_OUTS: &[OutputSpec] = &[out("host", false), out("port", false), out("arn", false)];
    static QUEUE_PROPS: &[PropSpec] = &[prop("fifo", false), prop("redrive_to", false)];
    static QUEUE_OUTS: &[OutputSpec] = &[out("url", false), out("arn", false)];
    static PASSWORD_PROPS: &[PropSpec] = &[prop("length", false)];
    static PASSWORD_OUTS: &[OutputSpec] = &[out("value", true)];

    /// Kinds shaped like the real ones, independent of the registry.
    pub(crate) fn catalog() -> Catalog {
        let k = |name, api, props, outputs| KindInfo {
            name,
            kind: None,
            api,
            props,
            outputs,
        };
        Catalog::new(vec![
            k("aws.s3.bucket", "s3", BUCKET_PROPS, BUCKET_OUTS),
            k("aws.rds.instance", "rds", RDS_PROPS, RDS_OUTS),
            k("aws.sqs.queue", "sqs", QUEUE_PROPS, QUEUE_OUTS),
            k("secret.password", "secret", PASSWORD_PROPS, PASSWORD_OUTS),
        ])
    }

    #[test]
    fn ids_are_lowercase_labels_starting_with_a_letter() {
        for good in ["a", "uploads", "db-1", &"a".repeat(40)] {
            assert!(valid_id(good), "{good}");
        }
        for bad in ["", "1db", "-db", "Db", "d_b", "d.b", &"a".repeat(41)] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn suggestions_find_near_names_only() {
        let c = ["instance_class", "engine", "password"];
        assert_eq!(suggest("instance_clas", c), Some("instance_class"));
        assert_eq!(suggest("Engine", c), Some("engine"));
        assert_eq!(suggest("zzz", c), None);
        assert_eq!(suggest("depends", ["id", "depends_on"]), Some("depends_on"));
        assert_eq!(suggest("dep", ["id", "depends_on"]), None);
        assert_eq!(
            suggest("aws.s3.buckt", ["aws.s3.bucket", "aws.sqs.queue"]),
            Some("aws.s3.bucket")
        );
    }

    #[test]
    fn validating_a_stack_built_in_code_uses_resource_lines() {
        use crate::stack::Resource;
        let stack = Stack {
            path: "built.yaml".into(),
            name: "t".into(),
            environment: "dev".into(),
            budget: crate::stack::model::DEFAULT_BUDGET,
            ttl: None,
            expected: Default::default(),
            timeouts: Default::default(),
            limits: Default::default(),
            hibernate: None,
            resources: vec![Resource {
                id: "q".into(),
                kind: "aws.sqs.queue".into(),
                properties: serde_json::json!({"redrive_to": "${dlq.arn}"})
                    .as_object()
                    .unwrap()
                    .clone(),
                depends_on: vec![],
                wait_for: vec![],
                publish: vec![],
                pool: None,
                line: 7,
            }],
        };
        let err = validate_with(&stack, &catalog()).unwrap_err().to_string();
        assert!(
            err.starts_with("built.yaml:7: resource 'q': property 'redrive_to': reference ${dlq.arn} names no resource 'dlq'"),
            "{err}"
        );
    }
}
