//! The service catalog: `blueprints/catalog.yaml` parsed, merged with its
//! `defaults`, and validated (names, images, KEYs, quantities, probes, HPA,
//! ingress, `depends_on` references and cycles), with the templates beside it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::{At, BlueprintError};
use super::quantity::{cpu_millis, memory_bytes};
use super::template::Templates;
use crate::envapi::valid_key_name;

/// The catalog file inside a blueprints directory.
pub const CATALOG_FILE: &str = "catalog.yaml";

/// Longest service name: leaves room for the `-secrets` and `-config`
/// suffixes within Kubernetes' 63 characters.
pub const MAX_SERVICE_NAME: usize = 40;

// ---------------------------------------------------------------------------
// The validated model.

/// CPU and memory of one side (requests or limits), as written in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantities {
    pub cpu: String,
    pub memory: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub requests: Quantities,
    pub limits: Quantities,
}

/// One HTTP probe's timing.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub initial_delay_seconds: u32,
    pub period_seconds: u32,
    pub timeout_seconds: u32,
    pub failure_threshold: u32,
}

/// The health endpoint and its two probes: readiness gates traffic,
/// liveness restarts the container.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    pub path: String,
    pub readiness: Probe,
    pub liveness: Probe,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hpa {
    pub min: u32,
    pub max: u32,
    pub cpu_percent: u32,
}

/// An Ingress rule: `host` is one label under the tenant's domain
/// (`app` becomes `app.<domain>`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ingress {
    pub host: String,
    #[serde(default = "root_path")]
    pub path: String,
}

fn root_path() -> String {
    "/".into()
}

/// One microservice, with the catalog's defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    name: String,
    image: String,
    tag: String,
    port: u16,
    replicas: u32,
    resources: Resources,
    health: Health,
    env: Vec<String>,
    secrets: Vec<String>,
    hpa: Option<Hpa>,
    ingress: Option<Ingress>,
    depends_on: Vec<String>,
    line: Option<usize>,
}

impl Service {
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The repository, without tag.
    pub fn image(&self) -> &str {
        &self.image
    }
    pub fn tag(&self) -> &str {
        &self.tag
    }
    /// `image:tag`, as the container runs it.
    pub fn image_ref(&self) -> String {
        format!("{}:{}", self.image, self.tag)
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    /// Replicas when there is no HPA (with one, the HPA owns the count).
    pub fn replicas(&self) -> u32 {
        self.replicas
    }
    pub fn resources(&self) -> &Resources {
        &self.resources
    }
    pub fn health(&self) -> &Health {
        &self.health
    }
    pub fn hpa(&self) -> Option<&Hpa> {
        self.hpa.as_ref()
    }
    pub fn ingress(&self) -> Option<&Ingress> {
        self.ingress.as_ref()
    }
    /// Services that must be running before this one starts.
    pub fn depends_on(&self) -> &[String] {
        &self.depends_on
    }
    /// KEYs consumed as plain values (the defaults' first), in catalog order.
    pub fn env(&self) -> &[String] {
        &self.env
    }
    /// KEYs consumed as secret values, in catalog order.
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }
    /// Every KEY the service consumes, with `true` for a secret one: the
    /// values it needs published before it can be rendered.
    pub fn consumes(&self) -> impl Iterator<Item = (&str, bool)> + '_ {
        self.env
            .iter()
            .map(|k| (k.as_str(), false))
            .chain(self.secrets.iter().map(|k| (k.as_str(), true)))
    }
    /// The line of its entry in `catalog.yaml`, when found.
    pub fn line(&self) -> Option<usize> {
        self.line
    }
}

/// The validated catalog and its templates.
#[derive(Debug)]
pub struct Catalog {
    dir: PathBuf,
    services: BTreeMap<String, Service>,
    pub(crate) templates: Templates,
}

impl Catalog {
    /// Loads `<dir>/catalog.yaml` and `<dir>/templates/*.yaml.mustache`, and
    /// validates both. Every problem found is reported, not just the first.
    pub fn load(dir: &Path) -> Result<Catalog, BlueprintError> {
        let file = dir.join(CATALOG_FILE);
        let source = std::fs::read_to_string(&file).map_err(|source| BlueprintError::Io {
            at: At::file(&file),
            source,
        })?;
        let parsed = parse(&file, &source);
        let templates = Templates::load(&dir.join("templates"));
        let mut errors = Vec::new();
        let services = match parsed {
            Ok(s) => Some(s),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let templates = match templates {
            Ok(t) => Some(t),
            Err(e) => {
                errors.extend(match e {
                    BlueprintError::Many(v) => v,
                    e => vec![e],
                });
                None
            }
        };
        if let Some(e) = BlueprintError::collect(errors) {
            return Err(e);
        }
        let (Some(services), Some(templates)) = (services, templates) else {
            unreachable!("errors were returned above");
        };
        Ok(Catalog {
            dir: dir.to_path_buf(),
            services,
            templates,
        })
    }

    /// The blueprints directory it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every service, by name.
    pub fn services(&self) -> impl Iterator<Item = &Service> + '_ {
        self.services.values()
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.get(name)
    }

    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }
}

// ---------------------------------------------------------------------------
// The file model: what catalog.yaml may contain.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    defaults: RawDefaults,
    services: Vec<RawService>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    port: u16,
    replicas: u32,
    resources: Resources,
    health: Health,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawQuantities {
    cpu: Option<String>,
    memory: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawResources {
    #[serde(default)]
    requests: RawQuantities,
    #[serde(default)]
    limits: RawQuantities,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    initial_delay_seconds: Option<u32>,
    period_seconds: Option<u32>,
    timeout_seconds: Option<u32>,
    failure_threshold: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    path: Option<String>,
    #[serde(default)]
    readiness: RawProbe,
    #[serde(default)]
    liveness: RawProbe,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: String,
    image: String,
    tag: String,
    port: Option<u16>,
    replicas: Option<u32>,
    #[serde(default)]
    resources: RawResources,
    #[serde(default)]
    health: RawHealth,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
    hpa: Option<Hpa>,
    ingress: Option<Ingress>,
    #[serde(default)]
    depends_on: Vec<String>,
}

fn probe(raw: RawProbe, d: &Probe) -> Probe {
    Probe {
        initial_delay_seconds: raw.initial_delay_seconds.unwrap_or(d.initial_delay_seconds),
        period_seconds: raw.period_seconds.unwrap_or(d.period_seconds),
        timeout_seconds: raw.timeout_seconds.unwrap_or(d.timeout_seconds),
        failure_threshold: raw.failure_threshold.unwrap_or(d.failure_threshold),
    }
}

fn quantities(raw: RawQuantities, d: &Quantities) -> Quantities {
    Quantities {
        cpu: raw.cpu.unwrap_or_else(|| d.cpu.clone()),
        memory: raw.memory.unwrap_or_else(|| d.memory.clone()),
    }
}

// ---------------------------------------------------------------------------
// Parsing and validation.

/// Parses and validates the catalog source; `file` is only for messages.
pub(crate) fn parse(
    file: &Path,
    source: &str,
) -> Result<BTreeMap<String, Service>, BlueprintError> {
    let raw: RawCatalog =
        serde_yaml_ng::from_str(source).map_err(|e| syntax_error(file, source, &e))?;
    let lines = entry_lines(source, &raw.services);
    let mut errors = Vec::new();
    let at = |i: Option<usize>, service: &str| {
        At::file(file)
            .line(i.and_then(|i| lines[i]))
            .service(service)
    };

    // Defaults first: a bad default would be reported once per service otherwise.
    let d = &raw.defaults;
    let dat = At::file(file)
        .line(line_of(source, "defaults:"))
        .service("defaults");
    check_resources(&dat, &d.resources, &mut errors);
    check_health(&dat, &d.health, &mut errors);
    check_keys(&dat, &d.env, &d.secrets, &[], &mut errors);
    if d.replicas == 0 {
        errors.push(invalid(&dat, "replicas is 0", "set replicas to 1 or more"));
    }

    let mut services: BTreeMap<String, Service> = BTreeMap::new();
    let mut ingress_rules: BTreeMap<(String, String), String> = BTreeMap::new();
    for (i, r) in raw.services.into_iter().enumerate() {
        let at = at(Some(i), &r.name);
        check_name(&at, &r.name, &mut errors);
        check_image(&at, &r.image, &r.tag, &mut errors);
        if r.port == Some(0) {
            errors.push(invalid(
                &at,
                "port is 0",
                "set the container port the service listens on (1-65535)",
            ));
        }
        if r.replicas == Some(0) {
            errors.push(invalid(
                &at,
                "replicas is 0",
                "set replicas to 1 or more, or remove the service",
            ));
        }
        let resources = Resources {
            requests: quantities(r.resources.requests, &d.resources.requests),
            limits: quantities(r.resources.limits, &d.resources.limits),
        };
        check_resources(&at, &resources, &mut errors);
        let health = Health {
            path: r.health.path.unwrap_or_else(|| d.health.path.clone()),
            readiness: probe(r.health.readiness, &d.health.readiness),
            liveness: probe(r.health.liveness, &d.health.liveness),
        };
        check_health(&at, &health, &mut errors);
        check_keys(&at, &r.env, &r.secrets, &d.env, &mut errors);
        if let Some(h) = &r.hpa {
            check_hpa(&at, h, r.replicas.is_some(), &mut errors);
        }
        if let Some(ing) = &r.ingress {
            check_ingress(&at, ing, &mut errors);
            let rule = (ing.host.clone(), ing.path.clone());
            if let Some(other) = ingress_rules.get(&rule) {
                errors.push(invalid(
                    &at,
                    &format!(
                        "ingress {}{} is already routed to service '{other}'",
                        ing.host, ing.path
                    ),
                    "give one of them another host or path",
                ));
            } else {
                ingress_rules.insert(rule, r.name.clone());
            }
        }
        let mut seen = BTreeSet::new();
        for dep in &r.depends_on {
            if !seen.insert(dep) {
                errors.push(invalid(
                    &at,
                    &format!("depends_on lists '{dep}' twice"),
                    "list each dependency once",
                ));
            }
        }
        let env: Vec<String> = d.env.iter().chain(&r.env).cloned().collect();
        let secrets: Vec<String> = d.secrets.iter().chain(&r.secrets).cloned().collect();
        let service = Service {
            port: r.port.unwrap_or(d.port),
            replicas: r.replicas.unwrap_or(d.replicas),
            resources,
            health,
            env,
            secrets,
            hpa: r.hpa,
            ingress: r.ingress,
            depends_on: r.depends_on,
            line: at.line,
            name: r.name,
            image: r.image,
            tag: r.tag,
        };
        if let Some(first) = services.get(&service.name) {
            errors.push(BlueprintError::DuplicateService {
                at: at.clone(),
                first: first.line.unwrap_or(0),
            });
            continue;
        }
        services.insert(service.name.clone(), service);
    }

    for s in services.values() {
        for dep in &s.depends_on {
            if !services.contains_key(dep) {
                errors.push(BlueprintError::UnknownDependency {
                    at: At::file(file).line(s.line).service(&s.name),
                    missing: dep.clone(),
                });
            }
        }
    }
    for members in cycles(&services) {
        let first = &services[&members[0]];
        errors.push(BlueprintError::DependencyCycle {
            at: At::file(file).line(first.line).service(&first.name),
            members,
        });
    }

    match BlueprintError::collect(errors) {
        Some(e) => Err(e),
        None => Ok(services),
    }
}

fn invalid(at: &At, problem: &str, fix: &str) -> BlueprintError {
    BlueprintError::Invalid {
        at: at.clone(),
        problem: problem.to_string(),
        fix: fix.to_string(),
    }
}

/// A serde error, placed at its line and, when the line is inside a service
/// entry, named after that service.
fn syntax_error(file: &Path, source: &str, e: &serde_yaml_ng::Error) -> BlueprintError {
    let line = e.location().map(|l| l.line());
    let mut at = At::file(file).line(line);
    if let Some(line) = line {
        let services_line = line_of(source, "services:").unwrap_or(usize::MAX);
        if line > services_line
            && let Some(name) = source
                .lines()
                .take(line)
                .collect::<Vec<_>>()
                .iter()
                .rev()
                .find_map(|l| entry_name(l))
        {
            at = at.service(&name);
        }
    }
    let message = e.to_string();
    let fix = if message.contains("unknown field") {
        "remove or correct the field; the format is described at the top of catalog.yaml"
    } else if message.contains("invalid type") {
        "give the field a value of the expected type; quote strings that look like numbers (tag: \"1.10\")"
    } else if message.contains("missing field") {
        "add the field; every service needs name, image and tag"
    } else if message.contains("duplicate") {
        "remove the repeated field"
    } else {
        "correct the YAML at that line"
    };
    BlueprintError::Syntax {
        at,
        message,
        fix: fix.to_string(),
    }
}

/// `- name: x` (optionally quoted) → `x`.
fn entry_name(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix('-')?.trim_start();
    let value = rest.strip_prefix("name:")?.trim();
    let value = value.split(" #").next().unwrap_or(value).trim();
    Some(value.trim_matches(|c| c == '"' || c == '\'').to_string())
}

/// The first line (1-based) that starts with `prefix`, ignoring indentation.
fn line_of(source: &str, prefix: &str) -> Option<usize> {
    source
        .lines()
        .position(|l| l.trim_start().starts_with(prefix))
        .map(|i| i + 1)
}

/// For each service entry, in order, the line of its `- name:`: the k-th
/// entry called `x` is the k-th `- name: x` line.
fn entry_lines(source: &str, services: &[RawService]) -> Vec<Option<usize>> {
    let mut found: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, l) in source.lines().enumerate() {
        if let Some(name) = entry_name(l) {
            found.entry(name).or_default().push(i + 1);
        }
    }
    let mut used: BTreeMap<&str, usize> = BTreeMap::new();
    services
        .iter()
        .map(|s| {
            let k = used.entry(s.name.as_str()).or_default();
            let line = found.get(&s.name).and_then(|v| v.get(*k)).copied();
            *k += 1;
            line
        })
        .collect()
}

fn check_name(at: &At, name: &str, errors: &mut Vec<BlueprintError>) {
    let fix = "use 1-40 characters of a-z, 0-9 and '-', starting with a letter and ending with a letter or digit (e.g. pdf-renderer)";
    let problem = if name.is_empty() {
        Some("the name is empty")
    } else if name.len() > MAX_SERVICE_NAME {
        Some("the name is longer than 40 characters")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        Some("the name has a character other than a-z, 0-9 or '-'")
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) || name.ends_with('-') {
        Some("the name must start with a letter and end with a letter or digit")
    } else if name == "common" {
        Some("'common' is the value store's shared level, not a service name")
    } else {
        None
    };
    if let Some(p) = problem {
        errors.push(invalid(at, &format!("{p} ('{name}')"), fix));
    }
}

fn check_image(at: &At, image: &str, tag: &str, errors: &mut Vec<BlueprintError>) {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.is_empty()
        || image.starts_with('/')
        || image.ends_with('/')
        || image.contains("//")
        || !image
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c))
    {
        errors.push(invalid(
            at,
            &format!("image '{image}' is not a repository name"),
            "write the repository in lower case without tag or digest, e.g. registry.example.com/saas/billing",
        ));
    } else if last.contains(':') {
        errors.push(invalid(
            at,
            &format!("image '{image}' includes a tag"),
            "put the repository in `image` and the version in `tag`",
        ));
    }
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !tag_ok {
        errors.push(invalid(
            at,
            &format!("tag '{tag}' is not a valid image tag"),
            "use up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'",
        ));
    } else if tag == "latest" {
        errors.push(invalid(
            at,
            "tag 'latest' is not a version: pods would not roll when the image changes, and a rollback could not name the old one",
            "pin the version the service runs, e.g. tag: \"4.2.0\"",
        ));
    }
}

fn check_resources(at: &At, r: &Resources, errors: &mut Vec<BlueprintError>) {
    let mut cpu = [None, None];
    let mut mem = [None, None];
    for (i, q) in [&r.requests, &r.limits].into_iter().enumerate() {
        match cpu_millis(&q.cpu) {
            Ok(v) => cpu[i] = Some(v),
            Err(fix) => errors.push(BlueprintError::BadQuantity {
                at: at.clone(),
                field: if i == 0 {
                    "resources.requests.cpu"
                } else {
                    "resources.limits.cpu"
                },
                value: q.cpu.clone(),
                fix,
            }),
        }
        match memory_bytes(&q.memory) {
            Ok(v) => mem[i] = Some(v),
            Err(fix) => errors.push(BlueprintError::BadQuantity {
                at: at.clone(),
                field: if i == 0 {
                    "resources.requests.memory"
                } else {
                    "resources.limits.memory"
                },
                value: q.memory.clone(),
                fix,
            }),
        }
    }
    if let [Some(req), Some(lim)] = cpu
        && req > lim
    {
        errors.push(invalid(
            at,
            &format!(
                "resources.requests.cpu {} is more than resources.limits.cpu {}",
                r.requests.cpu, r.limits.cpu
            ),
            "lower the request or raise the limit",
        ));
    }
    if let [Some(req), Some(lim)] = mem
        && req > lim
    {
        errors.push(invalid(
            at,
            &format!(
                "resources.requests.memory {} is more than resources.limits.memory {}",
                r.requests.memory, r.limits.memory
            ),
            "lower the request or raise the limit",
        ));
    }
}

fn check_health(at: &At, h: &Health, errors: &mut Vec<BlueprintError>) {
    if !h.path.starts_with('/') || h.path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.push(invalid(
            at,
            &format!("health.path '{}' is not an absolute URL path", h.path),
            "write a path starting with '/', e.g. /healthcheck",
        ));
    }
    for (name, p) in [("readiness", &h.readiness), ("liveness", &h.liveness)] {
        if p.period_seconds == 0 || p.timeout_seconds == 0 || p.failure_threshold == 0 {
            errors.push(invalid(
                at,
                &format!("health.{name}: period_seconds, timeout_seconds and failure_threshold must be 1 or more"),
                "set them to 1 or more",
            ));
        } else if p.timeout_seconds > p.period_seconds {
            errors.push(invalid(
                at,
                &format!(
                    "health.{name}.timeout_seconds {} is longer than period_seconds {}",
                    p.timeout_seconds, p.period_seconds
                ),
                "make the timeout at most the period",
            ));
        }
    }
    let (r, l) = (&h.readiness, &h.liveness);
    if l.initial_delay_seconds < r.initial_delay_seconds {
        errors.push(invalid(
            at,
            &format!(
                "health.liveness.initial_delay_seconds {} is shorter than readiness's {}: the pod could be restarted before it was ever ready",
                l.initial_delay_seconds, r.initial_delay_seconds
            ),
            "give liveness a generous initial delay (the default is 60s)",
        ));
    }
    if l.failure_threshold < 3 {
        errors.push(invalid(
            at,
            &format!(
                "health.liveness.failure_threshold {} restarts the pod after a single slow moment (this is what breaks rolling deploys)",
                l.failure_threshold
            ),
            "set failure_threshold to 3 or more",
        ));
    }
}

fn check_keys(
    at: &At,
    env: &[String],
    secrets: &[String],
    inherited: &[String],
    errors: &mut Vec<BlueprintError>,
) {
    let mut seen: BTreeMap<&str, &str> = inherited
        .iter()
        .map(|k| (k.as_str(), "defaults.env"))
        .collect();
    for (list, keys) in [("env", env), ("secrets", secrets)] {
        for key in keys {
            if !valid_key_name(key) {
                errors.push(BlueprintError::BadKey {
                    at: at.clone(),
                    list,
                    key: key.clone(),
                });
                continue;
            }
            if let Some(first) = seen.insert(key, list) {
                let fix = if first == list {
                    format!("list {key} once")
                } else if first == "defaults.env" {
                    format!("remove {key} from {list}: every service gets it from defaults.env")
                } else {
                    format!(
                        "keep {key} in `secrets` if its value is secret, in `env` otherwise, not in both"
                    )
                };
                errors.push(invalid(
                    at,
                    &format!("KEY {key} is in {first} and in {list}"),
                    &fix,
                ));
            }
        }
    }
}

fn check_hpa(at: &At, h: &Hpa, replicas_set: bool, errors: &mut Vec<BlueprintError>) {
    if h.min == 0 || h.max < h.min {
        errors.push(invalid(
            at,
            &format!("hpa min {} / max {} is not a range", h.min, h.max),
            "set 1 <= min <= max, e.g. { min: 1, max: 4, cpu_percent: 75 }",
        ));
    }
    if h.cpu_percent == 0 || h.cpu_percent > 100 {
        errors.push(invalid(
            at,
            &format!("hpa cpu_percent {} is outside 1-100", h.cpu_percent),
            "set the target CPU utilisation in percent of the request, e.g. 75",
        ));
    }
    if replicas_set {
        errors.push(invalid(
            at,
            "replicas is set together with hpa: every apply would reset the count the HPA chose",
            "remove replicas and let hpa.min set the floor",
        ));
    }
}

fn check_ingress(at: &At, ing: &Ingress, errors: &mut Vec<BlueprintError>) {
    let h = &ing.host;
    let label_ok = !h.is_empty()
        && h.len() <= 63
        && h.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !h.starts_with('-')
        && !h.ends_with('-');
    if !label_ok {
        errors.push(invalid(
            at,
            &format!("ingress.host '{h}' is not a single DNS label"),
            "use one label such as app or api: the tenant's domain is added to it",
        ));
    }
    let p = &ing.path;
    if !p.starts_with('/')
        || p.chars()
            .any(|c| c.is_whitespace() || c.is_control() || "{}*?#".contains(c))
    {
        errors.push(invalid(
            at,
            &format!("ingress.path '{p}' is not a plain URL path prefix"),
            "write a path starting with '/', e.g. / or /uploads",
        ));
    }
}

/// Every cycle of `depends_on`, each listed from its first service (in name
/// order) back to it: `["a", "b", "a"]`. Unknown dependencies are skipped.
fn cycles(services: &BTreeMap<String, Service>) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    fn visit<'a>(
        name: &'a str,
        services: &'a BTreeMap<String, Service>,
        marks: &mut BTreeMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
        found: &mut Vec<Vec<String>>,
    ) {
        marks.insert(name, Mark::OnStack);
        stack.push(name);
        for dep in &services[name].depends_on {
            let Some((dep, _)) = services.get_key_value(dep) else {
                continue;
            };
            match marks.get(dep.as_str()).copied().unwrap_or(Mark::New) {
                Mark::New => visit(dep, services, marks, stack, found),
                Mark::OnStack => {
                    let start = stack.iter().position(|s| *s == dep).unwrap_or(0);
                    let mut members: Vec<String> =
                        stack[start..].iter().map(|s| s.to_string()).collect();
                    members.push(dep.clone());
                    found.push(members);
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(name, Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut found = Vec::new();
    for name in services.keys() {
        if marks.get(name.as_str()).copied().unwrap_or(Mark::New) == Mark::New {
            visit(name, services, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}
