//! What a service is rendered with: the tenant's [`RenderContext`] (names
//! and environment values), and the per-service template context built from
//! it, in which every string is already a YAML double-quoted scalar.

use std::collections::BTreeMap;

use ramhorns::Content;
use sha2::{Digest, Sha256};

use super::catalog::{Catalog, Check, Probe, Service};
use super::error::RenderError;
use crate::envapi::store::StoredValue;
use crate::secret::{MASK, SecretString};

/// One environment value: plain (goes to the service's ConfigMap) or secret
/// (goes to its Secret only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Plain(String),
    Secret(SecretString),
}

impl Value {
    pub fn plain(v: impl Into<String>) -> Self {
        Value::Plain(v.into())
    }

    pub fn secret(v: impl Into<String>) -> Self {
        Value::Secret(SecretString::new(v))
    }

    pub fn is_secret(&self) -> bool {
        matches!(self, Value::Secret(_))
    }
}

impl From<StoredValue> for Value {
    fn from(v: StoredValue) -> Self {
        if v.secret {
            Value::Secret(v.value)
        } else {
            Value::Plain(v.value.expose().to_string())
        }
    }
}

/// Whether a rendered Secret holds the values or only [`MASK`]. Nothing
/// else differs: the config checksum is always computed from the real
/// values, so a masked render shows exactly the Deployment that would be
/// applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretMode {
    /// The Secret holds the values: for applying to the cluster.
    Reveal,
    /// The Secret holds the mask: for showing to a person.
    Mask,
}

/// A tenant's names and values. `values` is what every service sees (the
/// value store's tenant-common over environment-common); `service_values`
/// holds each service's own level, which wins over `values` for that
/// service (what `ValueStore::merged` with a service returns, minus the
/// shared part).
#[derive(Clone, Debug, Default)]
pub struct RenderContext {
    pub tenant: String,
    pub namespace: String,
    /// The tenant's DNS domain, e.g. `acme.example.test`; Ingress hosts are
    /// `<ingress.host>.<domain>`.
    pub domain: String,
    pub values: BTreeMap<String, Value>,
    pub service_values: BTreeMap<String, BTreeMap<String, Value>>,
}

impl RenderContext {
    pub fn new(
        tenant: impl Into<String>,
        namespace: impl Into<String>,
        domain: impl Into<String>,
    ) -> Self {
        Self {
            tenant: tenant.into(),
            namespace: namespace.into(),
            domain: domain.into(),
            ..Default::default()
        }
    }

    /// Adds a value every service sees.
    pub fn with_value(mut self, key: &str, value: Value) -> Self {
        self.values.insert(key.to_string(), value);
        self
    }

    /// Adds a value only `service` sees (over a shared one of the same KEY).
    pub fn with_service_value(mut self, service: &str, key: &str, value: Value) -> Self {
        self.service_values
            .entry(service.to_string())
            .or_default()
            .insert(key.to_string(), value);
        self
    }

    /// Adds, at each service's level, a made-up value (`example-<KEY>`) for
    /// every KEY the catalog's services consume, secret where consumed as
    /// one: for checking the manifests of the whole catalog without a tenant.
    pub fn with_example_values(mut self, catalog: &Catalog) -> Self {
        for svc in catalog.services() {
            for (key, secret) in svc.consumes() {
                let v = format!("example-{key}");
                let v = if secret {
                    Value::secret(v)
                } else {
                    Value::plain(v)
                };
                self = self.with_service_value(svc.name(), key, v);
            }
        }
        self
    }

    /// The value of `key` as `service` sees it.
    pub fn lookup(&self, service: &str, key: &str) -> Option<&Value> {
        self.service_values
            .get(service)
            .and_then(|m| m.get(key))
            .or_else(|| self.values.get(key))
    }

    /// Tenant: the tenant-name rule; namespace: an RFC 1123 label; domain: a
    /// DNS name.
    pub(crate) fn validate(&self) -> Result<(), RenderError> {
        if let Err(e) = crate::tenant::TenantName::parse(&self.tenant) {
            return Err(RenderError::BadContext {
                field: "tenant",
                value: self.tenant.clone(),
                problem: e.reason.to_string(),
                fix: "use 1-40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit".into(),
            });
        }
        if !dns_label(&self.namespace) {
            return Err(RenderError::BadContext {
                field: "namespace",
                value: self.namespace.clone(),
                problem: "it is not an RFC 1123 label".into(),
                fix: "use 1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit".into(),
            });
        }
        if self.domain.len() > 253 || !self.domain.split('.').all(dns_label) {
            return Err(RenderError::BadContext {
                field: "domain",
                value: self.domain.clone(),
                problem: "it is not a lower-case DNS name".into(),
                fix: "use dot-separated labels of a-z, 0-9 and '-', e.g. acme.example.test".into(),
            });
        }
        Ok(())
    }
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A string as a YAML double-quoted scalar, valid in YAML 1.1 and 1.2:
/// `"` and `\` escaped, and every character outside YAML's printable set (or
/// that YAML 1.1 takes for a line break) written as an escape. Whatever the
/// value, it stays one scalar on one line.
pub fn yaml_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' '..='~' => out.push(c),
            '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'.. => out.push(c),
            _ => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------
// The template context. Field names are the names templates may use.

/// How a template may use a context name: interpolate it, or open it as a
/// section (a list, a flag, or an optional group).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameUse {
    Value,
    Section,
}

/// Every name of the template context; the template lint refuses others.
/// Keep in step with the `Content` structs below.
pub const NAMES: &[(&str, NameUse)] = &[
    ("name", NameUse::Value),
    ("namespace", NameUse::Value),
    ("tenant", NameUse::Value),
    ("labels", NameUse::Section),
    ("key", NameUse::Value),
    ("value", NameUse::Value),
    ("image", NameUse::Value),
    ("port", NameUse::Value),
    ("replicas", NameUse::Value),
    ("checksum", NameUse::Value),
    ("has_env", NameUse::Section),
    ("config_map", NameUse::Value),
    ("config", NameUse::Section),
    ("secret_name", NameUse::Value),
    ("secret_keys", NameUse::Section),
    ("secret_data", NameUse::Section),
    ("requests_cpu", NameUse::Value),
    ("requests_memory", NameUse::Value),
    ("limits_cpu", NameUse::Value),
    ("limits_memory", NameUse::Value),
    ("requests_ephemeral_storage", NameUse::Value),
    ("limits_ephemeral_storage", NameUse::Value),
    ("run_as_user", NameUse::Value),
    ("read_only_root_filesystem", NameUse::Value),
    ("tmp_volume", NameUse::Section),
    ("service_account_token", NameUse::Value),
    ("startup", NameUse::Section),
    ("readiness", NameUse::Section),
    ("liveness", NameUse::Section),
    ("http", NameUse::Section),
    ("tcp", NameUse::Section),
    ("path", NameUse::Value),
    ("initial_delay_seconds", NameUse::Value),
    ("period_seconds", NameUse::Value),
    ("timeout_seconds", NameUse::Value),
    ("failure_threshold", NameUse::Value),
    ("hpa", NameUse::Section),
    ("min", NameUse::Value),
    ("max", NameUse::Value),
    ("cpu_percent", NameUse::Value),
    ("ingress", NameUse::Section),
    ("host", NameUse::Value),
];

/// A quoted key and a quoted value (a label, a ConfigMap or Secret entry).
#[derive(Content, Clone, Debug)]
pub(crate) struct Pair {
    key: String,
    value: String,
}

/// A quoted KEY alone: what the Deployment gets of a secret.
#[derive(Content, Clone, Debug)]
pub(crate) struct KeyOnly {
    key: String,
}

/// An http probe's quoted path.
#[derive(Content, Clone, Debug)]
pub(crate) struct HttpCx {
    path: String,
}

/// One probe: exactly one of `http` and `tcp` is set.
#[derive(Content, Clone, Debug)]
pub(crate) struct ProbeCx {
    http: Option<HttpCx>,
    tcp: bool,
    initial_delay_seconds: u32,
    period_seconds: u32,
    timeout_seconds: u32,
    failure_threshold: u32,
}

#[derive(Content, Clone, Debug)]
pub(crate) struct HpaCx {
    min: u32,
    max: u32,
    cpu_percent: u32,
}

#[derive(Content, Clone, Debug)]
pub(crate) struct IngressCx {
    host: String,
    path: String,
}

/// The context every template of one service is rendered with. Its
/// `secret_data` is empty except while the Secret template renders, so no
/// other template can reach a secret value.
#[derive(Content, Debug)]
pub(crate) struct ObjectCx {
    name: String,
    namespace: String,
    tenant: String,
    labels: Vec<Pair>,
    image: String,
    port: u16,
    replicas: u32,
    checksum: String,
    has_env: bool,
    config_map: String,
    config: Vec<Pair>,
    secret_name: String,
    secret_keys: Vec<KeyOnly>,
    pub(crate) secret_data: Vec<Pair>,
    requests_cpu: String,
    requests_memory: String,
    limits_cpu: String,
    limits_memory: String,
    requests_ephemeral_storage: String,
    limits_ephemeral_storage: String,
    run_as_user: u32,
    /// `true` or `false`, as YAML.
    read_only_root_filesystem: &'static str,
    /// An emptyDir at /tmp, with a read-only root filesystem.
    tmp_volume: bool,
    /// `true` or `false`, as YAML.
    service_account_token: &'static str,
    startup: ProbeCx,
    readiness: ProbeCx,
    liveness: ProbeCx,
    hpa: Option<HpaCx>,
    ingress: Option<IngressCx>,
}

/// Object names derived from a service name.
pub fn config_map_name(service: &str) -> String {
    format!("{service}-config")
}

pub fn secret_name(service: &str) -> String {
    format!("{service}-secrets")
}

/// The labels every object of a tenant carries, unquoted.
pub fn labels(service: &str, tenant: &str) -> [(&'static str, String); 4] {
    [
        ("app.kubernetes.io/name", service.to_string()),
        ("app.kubernetes.io/part-of", "envctl".to_string()),
        ("envctl/tenant", tenant.to_string()),
        ("envctl/managed", "true".to_string()),
    ]
}

/// The service's template context, and the Secret's data (base64, quoted;
/// masked in [`SecretMode::Mask`]) kept apart from it.
pub(crate) fn build(
    service: &Service,
    cx: &RenderContext,
    mode: SecretMode,
) -> Result<(ObjectCx, Vec<Pair>), RenderError> {
    let name = service.name();
    let mut missing = Vec::new();
    let mut config = Vec::new();
    let mut secrets: Vec<(&str, &str)> = Vec::new();
    for (key, consumed_as_secret) in service.consumes() {
        match (cx.lookup(name, key), consumed_as_secret) {
            (None, secret) => missing.push((key.to_string(), secret)),
            (Some(Value::Secret(_)), false) => {
                return Err(RenderError::SecretConsumedAsPlain {
                    service: name.to_string(),
                    key: key.to_string(),
                });
            }
            (Some(Value::Plain(v)), false) => config.push((key, v.as_str())),
            (Some(Value::Plain(v)), true) => secrets.push((key, v.as_str())),
            (Some(Value::Secret(v)), true) => secrets.push((key, v.expose())),
        }
    }
    if !missing.is_empty() {
        return Err(RenderError::MissingValues {
            service: name.to_string(),
            keys: missing,
        });
    }

    let checksum = checksum(&config, &secrets);
    let secret_data = secrets
        .iter()
        .map(|(k, v)| Pair {
            key: yaml_quote(k),
            value: yaml_quote(&aws_smithy_types::base64::encode(match mode {
                SecretMode::Reveal => v.as_bytes(),
                SecretMode::Mask => MASK.as_bytes(),
            })),
        })
        .collect();
    let r = service.resources();
    let h = service.health();
    let sec = service.security();
    let yaml_bool = |b: bool| if b { "true" } else { "false" };
    let probe = |p: &Probe| ProbeCx {
        http: match &p.check {
            Check::Http(path) => Some(HttpCx {
                path: yaml_quote(path),
            }),
            Check::Tcp => None,
        },
        tcp: p.check == Check::Tcp,
        initial_delay_seconds: p.initial_delay_seconds,
        period_seconds: p.period_seconds,
        timeout_seconds: p.timeout_seconds,
        failure_threshold: p.failure_threshold,
    };
    let object = ObjectCx {
        name: yaml_quote(name),
        namespace: yaml_quote(&cx.namespace),
        tenant: yaml_quote(&cx.tenant),
        labels: labels(name, &cx.tenant)
            .iter()
            .map(|(k, v)| Pair {
                key: yaml_quote(k),
                value: yaml_quote(v),
            })
            .collect(),
        image: yaml_quote(&service.image_ref()),
        port: service.port(),
        replicas: service.replicas(),
        checksum: yaml_quote(&checksum),
        has_env: !config.is_empty() || !secrets.is_empty(),
        config_map: yaml_quote(&config_map_name(name)),
        config: config
            .iter()
            .map(|(k, v)| Pair {
                key: yaml_quote(k),
                value: yaml_quote(v),
            })
            .collect(),
        secret_name: yaml_quote(&secret_name(name)),
        secret_keys: secrets
            .iter()
            .map(|(k, _)| KeyOnly { key: yaml_quote(k) })
            .collect(),
        secret_data: Vec::new(),
        requests_cpu: yaml_quote(&r.requests.cpu),
        requests_memory: yaml_quote(&r.requests.memory),
        limits_cpu: yaml_quote(&r.limits.cpu),
        limits_memory: yaml_quote(&r.limits.memory),
        requests_ephemeral_storage: yaml_quote(&r.requests.ephemeral_storage),
        limits_ephemeral_storage: yaml_quote(&r.limits.ephemeral_storage),
        run_as_user: sec.run_as_user,
        read_only_root_filesystem: yaml_bool(sec.read_only_root_filesystem),
        tmp_volume: sec.read_only_root_filesystem,
        service_account_token: yaml_bool(sec.service_account_token),
        startup: probe(&h.startup),
        readiness: probe(&h.readiness),
        liveness: probe(&h.liveness),
        hpa: service.hpa().map(|h| HpaCx {
            min: h.min,
            max: h.max,
            cpu_percent: h.cpu_percent,
        }),
        ingress: service.ingress().map(|i| IngressCx {
            host: yaml_quote(&format!("{}.{}", i.host, cx.domain)),
            path: yaml_quote(&i.path),
        }),
    };
    Ok((object, secret_data))
}

/// `sha256:<hex>` of every plain and secret value with its KEY: one hash
/// over all of them, so no single value can be guessed from it.
fn checksum(config: &[(&str, &str)], secrets: &[(&str, &str)]) -> String {
    let mut h = Sha256::new();
    for (tag, list) in [("config", config), ("secret", secrets)] {
        for (k, v) in list {
            for part in [tag, k, v] {
                h.update((part.len() as u64).to_be_bytes());
                h.update(part.as_bytes());
            }
        }
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_any_value_one_yaml_scalar() {
        for v in [
            "plain",
            "a: b # c",
            "quote \" and ' and \\",
            "line\nbreak\r\n\ttab",
            "- [x] {y} & *z !t %u @v `w` | >",
            "yes",
            "null",
            "0x1F",
            "",
            " padded ",
            "bell\u{7} del\u{7f} nel\u{85} ls\u{2028} bom\u{feff} c1\u{9b}",
            "ünïcødé 🦀",
        ] {
            let q = yaml_quote(v);
            assert!(!q.contains('\n'), "{q}");
            let back: String = serde_yaml_ng::from_str(&q).unwrap_or_else(|e| panic!("{q}: {e}"));
            assert_eq!(back, v);
            let doc = format!("k: {q}\n");
            let map: BTreeMap<String, String> = serde_yaml_ng::from_str(&doc).unwrap();
            assert_eq!(map["k"], v);
        }
    }

    #[test]
    fn service_level_values_win() {
        let cx = RenderContext::new("acme", "acme", "acme.example.test")
            .with_value("QUEUE_URL", Value::plain("shared"))
            .with_service_value("orders", "QUEUE_URL", Value::plain("own"));
        assert_eq!(cx.lookup("orders", "QUEUE_URL"), Some(&Value::plain("own")));
        assert_eq!(
            cx.lookup("audit", "QUEUE_URL"),
            Some(&Value::plain("shared"))
        );
        assert_eq!(cx.lookup("audit", "NOPE"), None);
    }

    #[test]
    fn stored_values_convert_with_their_secrecy() {
        let s = StoredValue {
            value: SecretString::new("p@ss"),
            secret: true,
        };
        assert!(Value::from(s).is_secret());
        let p = StoredValue {
            value: SecretString::new("host"),
            secret: false,
        };
        assert_eq!(Value::from(p), Value::plain("host"));
    }

    #[test]
    fn context_names_are_checked() {
        let ok = RenderContext::new("acme", "tenant-acme", "acme.example.test");
        assert!(ok.validate().is_ok());
        for bad in [
            RenderContext::new("Acme", "acme", "acme.example.test"),
            RenderContext::new("acme", "acme_ns", "acme.example.test"),
            RenderContext::new("acme", "acme", "acme..example"),
            RenderContext::new("acme", "acme", "Acme.example.test"),
        ] {
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.contains("fix:"), "{e}");
        }
    }

    #[test]
    fn checksum_changes_with_any_value_and_is_not_ambiguous() {
        let a = checksum(&[("A", "1")], &[("S", "x")]);
        assert_eq!(a, checksum(&[("A", "1")], &[("S", "x")]));
        assert_ne!(a, checksum(&[("A", "2")], &[("S", "x")]));
        assert_ne!(a, checksum(&[("A", "1")], &[("S", "y")]));
        assert_ne!(checksum(&[("AB", "C")], &[]), checksum(&[("A", "BC")], &[]));
        assert!(a.starts_with("sha256:") && a.len() == 7 + 64);
    }
}
