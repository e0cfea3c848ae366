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

/// CPU, memory and ephemeral storage of one side (requests or limits), as
/// written in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantities {
    pub cpu: String,
    pub memory: String,
    /// Local disk: logs, the `/tmp` emptyDir and any writable layer. The
    /// kubelet evicts a pod that goes over its limit.
    pub ephemeral_storage: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub requests: Quantities,
    pub limits: Quantities,
}

/// What a probe checks: an HTTP GET of a path on the `http` port, or only
/// that the port accepts a TCP connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    Http(String),
    Tcp,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Http(path) => write!(f, "GET {path}"),
            Check::Tcp => write!(f, "a TCP connect to the http port"),
        }
    }
}

/// One probe: what it checks and its timing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub check: Check,
    pub initial_delay_seconds: u32,
    pub period_seconds: u32,
    pub timeout_seconds: u32,
    pub failure_threshold: u32,
}

impl Probe {
    /// How long the checked thing may fail before the probe acts: about
    /// `period_seconds * failure_threshold`.
    pub fn tolerance_seconds(&self) -> u32 {
        self.period_seconds.saturating_mul(self.failure_threshold)
    }
}

/// The health endpoint and the three probes: startup holds the other two
/// back until the service has started, readiness gates traffic, liveness
/// restarts the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// The service's health endpoint: the default path of an http probe.
    pub path: String,
    pub startup: Probe,
    pub readiness: Probe,
    pub liveness: Probe,
}

/// How the container runs, for Pod Security Standards "restricted". The
/// rest of "restricted" (`runAsNonRoot`, `seccompProfile: RuntimeDefault`,
/// `allowPrivilegeEscalation: false`, every capability dropped) is fixed in
/// the Deployment template and not a catalog choice.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// UID and GID of the container's processes (and the pod's fsGroup); not 0.
    pub run_as_user: u32,
    /// A read-only root filesystem with an emptyDir at `/tmp`.
    pub read_only_root_filesystem: bool,
    /// Mount the pod's Kubernetes API token (only for a service that calls
    /// the Kubernetes API).
    pub service_account_token: bool,
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
    security: Security,
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
    pub fn security(&self) -> &Security {
        &self.security
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
    health: DefaultHealth,
    security: Security,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum CheckKind {
    Http,
    Tcp,
}

/// A probe of `defaults.health`: every field but the path is required.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultProbe {
    check: CheckKind,
    path: Option<String>,
    #[serde(default)]
    initial_delay_seconds: u32,
    period_seconds: u32,
    timeout_seconds: u32,
    failure_threshold: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultHealth {
    path: String,
    startup: DefaultProbe,
    readiness: DefaultProbe,
    liveness: DefaultProbe,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawQuantities {
    cpu: Option<String>,
    memory: Option<String>,
    ephemeral_storage: Option<String>,
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
    check: Option<CheckKind>,
    path: Option<String>,
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
    startup: RawProbe,
    #[serde(default)]
    readiness: RawProbe,
    #[serde(default)]
    liveness: RawProbe,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSecurity {
    run_as_user: Option<u32>,
    read_only_root_filesystem: Option<bool>,
    service_account_token: Option<bool>,
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
    security: RawSecurity,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
    hpa: Option<Hpa>,
    ingress: Option<Ingress>,
    #[serde(default)]
    depends_on: Vec<String>,
}

/// A service's probe: its own fields over the default's. An http probe
/// without a path of its own (or of the default's, when the check is the
/// default's) checks `health_path`. `name` is only for the message when a
/// tcp probe is given a path.
fn probe(
    at: &At,
    name: &str,
    raw: RawProbe,
    d: &DefaultProbe,
    health_path: &str,
    errors: &mut Vec<BlueprintError>,
) -> Probe {
    let kind = raw.check.unwrap_or(d.check);
    // A default's tcp-with-path is reported once, for the defaults.
    let own_path = raw.path.is_some() || at.service.as_deref() == Some("defaults");
    let path = match raw.path {
        Some(p) => Some(p),
        None if kind == d.check => d.path.clone(),
        None => None,
    };
    let check = match (kind, path) {
        (CheckKind::Http, path) => Check::Http(path.unwrap_or_else(|| health_path.to_string())),
        (CheckKind::Tcp, Some(_)) if !own_path => Check::Tcp,
        (CheckKind::Tcp, None) => Check::Tcp,
        (CheckKind::Tcp, Some(p)) => {
            errors.push(invalid(
                at,
                &format!("health.{name} has path '{p}' but checks tcp, which has no path"),
                "remove the path, or add `check: http` to probe it with a GET",
            ));
            Check::Tcp
        }
    };
    Probe {
        check,
        initial_delay_seconds: raw.initial_delay_seconds.unwrap_or(d.initial_delay_seconds),
        period_seconds: raw.period_seconds.unwrap_or(d.period_seconds),
        timeout_seconds: raw.timeout_seconds.unwrap_or(d.timeout_seconds),
        failure_threshold: raw.failure_threshold.unwrap_or(d.failure_threshold),
    }
}

/// A service's health: its own fields over `defaults.health`.
fn health(at: &At, raw: RawHealth, d: &DefaultHealth, errors: &mut Vec<BlueprintError>) -> Health {
    let path = raw.path.unwrap_or_else(|| d.path.clone());
    Health {
        startup: probe(at, "startup", raw.startup, &d.startup, &path, errors),
        readiness: probe(at, "readiness", raw.readiness, &d.readiness, &path, errors),
        liveness: probe(at, "liveness", raw.liveness, &d.liveness, &path, errors),
        path,
    }
}

fn quantities(raw: RawQuantities, d: &Quantities) -> Quantities {
    Quantities {
        cpu: raw.cpu.unwrap_or_else(|| d.cpu.clone()),
        memory: raw.memory.unwrap_or_else(|| d.memory.clone()),
        ephemeral_storage: raw
            .ephemeral_storage
            .unwrap_or_else(|| d.ephemeral_storage.clone()),
    }
}

fn security(raw: RawSecurity, d: &Security) -> Security {
    Security {
        run_as_user: raw.run_as_user.unwrap_or(d.run_as_user),
        read_only_root_filesystem: raw
            .read_only_root_filesystem
            .unwrap_or(d.read_only_root_filesystem),
        service_account_token: raw.service_account_token.unwrap_or(d.service_account_token),
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
    let default_health = health(&dat, RawHealth::default(), &d.health, &mut errors);
    check_health(&dat, &default_health, &mut errors);
    check_security(&dat, &d.security, &mut errors);
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
        let health = health(&at, r.health, &d.health, &mut errors);
        check_health(&at, &health, &mut errors);
        let security = security(r.security, &d.security);
        check_security(&at, &security, &mut errors);
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
            security,
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

/// One quantity of [`Quantities`]: its name in messages (requests, limits),
/// how to read it from the catalog, and how to parse it for comparing.
struct QuantityField {
    request: &'static str,
    limit: &'static str,
    get: fn(&Quantities) -> &String,
    parse: fn(&str) -> Result<u64, String>,
}

const QUANTITY_FIELDS: [QuantityField; 3] = [
    QuantityField {
        request: "resources.requests.cpu",
        limit: "resources.limits.cpu",
        get: |q| &q.cpu,
        parse: cpu_millis,
    },
    QuantityField {
        request: "resources.requests.memory",
        limit: "resources.limits.memory",
        get: |q| &q.memory,
        parse: memory_bytes,
    },
    QuantityField {
        request: "resources.requests.ephemeral_storage",
        limit: "resources.limits.ephemeral_storage",
        get: |q| &q.ephemeral_storage,
        parse: memory_bytes,
    },
];

fn check_resources(at: &At, r: &Resources, errors: &mut Vec<BlueprintError>) {
    for f in &QUANTITY_FIELDS {
        let mut parsed = [None, None];
        for (i, (q, field)) in [(&r.requests, f.request), (&r.limits, f.limit)]
            .into_iter()
            .enumerate()
        {
            let value = (f.get)(q);
            match (f.parse)(value) {
                Ok(v) => parsed[i] = Some(v),
                Err(fix) => errors.push(BlueprintError::BadQuantity {
                    at: at.clone(),
                    field,
                    value: value.clone(),
                    fix,
                }),
            }
        }
        if let [Some(req), Some(lim)] = parsed
            && req > lim
        {
            errors.push(invalid(
                at,
                &format!(
                    "{} {} is more than {} {}",
                    f.request,
                    (f.get)(&r.requests),
                    f.limit,
                    (f.get)(&r.limits)
                ),
                "lower the request or raise the limit",
            ));
        }
    }
}

fn check_health(at: &At, h: &Health, errors: &mut Vec<BlueprintError>) {
    let probes = [
        ("startup", &h.startup),
        ("readiness", &h.readiness),
        ("liveness", &h.liveness),
    ];
    let mut paths = vec![("health.path".to_string(), &h.path)];
    for (name, p) in probes {
        if let Check::Http(path) = &p.check
            && path != &h.path
        {
            paths.push((format!("health.{name}.path"), path));
        }
    }
    for (field, path) in paths {
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            errors.push(invalid(
                at,
                &format!("{field} '{path}' is not an absolute URL path"),
                "write a path starting with '/', e.g. /healthcheck",
            ));
        }
    }
    for (name, p) in probes {
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
    if l.check == r.check {
        errors.push(invalid(
            at,
            &format!(
                "health.liveness checks the same as health.readiness ({}): when something behind that check fails, every pod is restarted instead of only being taken out of traffic, which is what breaks rolling deploys",
                l.check
            ),
            "let liveness check only that the process is alive: `check: tcp` (the default), or `check: http` with a path of its own such as /livez",
        ));
    }
    if l.initial_delay_seconds < r.initial_delay_seconds {
        errors.push(invalid(
            at,
            &format!(
                "health.liveness.initial_delay_seconds {} is shorter than readiness's {}: the pod could be restarted before it was ever ready",
                l.initial_delay_seconds, r.initial_delay_seconds
            ),
            "give liveness at least readiness's initial delay (the startup probe already holds both back while the service starts)",
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
    } else if l.tolerance_seconds() <= r.tolerance_seconds() {
        errors.push(invalid(
            at,
            &format!(
                "health.liveness gives up after {}s (period_seconds x failure_threshold), no later than readiness's {}s: a busy pod is restarted before it is even taken out of traffic",
                l.tolerance_seconds(),
                r.tolerance_seconds()
            ),
            "make liveness more tolerant than readiness: a longer period_seconds or a higher failure_threshold",
        ));
    }
}

fn check_security(at: &At, s: &Security, errors: &mut Vec<BlueprintError>) {
    if s.run_as_user == 0 {
        errors.push(invalid(
            at,
            "security.run_as_user 0 is root, which Pod Security \"restricted\" refuses",
            "set the UID of the image's non-root user (the default is 10001)",
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
