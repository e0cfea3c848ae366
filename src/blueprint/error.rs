//! The two error types of the blueprints: loading the catalog and templates
//! ([`BlueprintError`]) and rendering a service for a tenant ([`RenderError`]).
//! Every message names where (file and line, or service), what, and the fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a catalog or template problem is: the file, the line when known,
/// and the service it belongs to when it belongs to one.
/// (Boxed fields keep the error types small.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct At {
    pub file: Box<Path>,
    pub line: Option<usize>,
    pub service: Option<Box<str>>,
}

impl At {
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Self {
            file: file.into().into_boxed_path(),
            line: None,
            service: None,
        }
    }

    pub fn line(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }

    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.into());
        self
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(service) = &self.service {
            write!(f, ": service '{service}'")?;
        }
        Ok(())
    }
}

/// A problem with the catalog or the templates, found by [`super::Catalog::load`].
#[derive(Debug, thiserror::Error)]
pub enum BlueprintError {
    #[error(
        "{at}: cannot read it: {source}; fix: check the blueprints directory path and the file's permissions"
    )]
    Io {
        at: At,
        #[source]
        source: std::io::Error,
    },

    /// Not YAML, a field of the wrong type, or an unknown field.
    #[error("{at}: {message}; fix: {fix}")]
    Syntax {
        at: At,
        message: String,
        fix: String,
    },

    #[error(
        "{at}: the service is defined twice (first at line {first}); fix: remove or rename one of the two entries"
    )]
    DuplicateService { at: At, first: usize },

    #[error(
        "{at}: depends_on names '{missing}', which is not in the catalog; fix: add a service '{missing}' or remove it from depends_on"
    )]
    UnknownDependency { at: At, missing: String },

    #[error("{at}: depends_on forms a cycle: {}; fix: remove one of these dependencies (a service cannot wait for itself)", .members.join(" -> "))]
    DependencyCycle { at: At, members: Vec<String> },

    #[error(
        "{at}: KEY '{key}' in {list} is malformed; fix: use upper-case letters, digits and '_', starting with a letter or '_' (e.g. DATABASE_HOST)"
    )]
    BadKey {
        at: At,
        list: &'static str,
        key: String,
    },

    #[error("{at}: {field} '{value}' is not a valid quantity; fix: {fix}")]
    BadQuantity {
        at: At,
        field: &'static str,
        value: String,
        fix: String,
    },

    /// Any other invalid catalog setting (name, image, tag, port, health,
    /// hpa, ingress, duplicate KEY, ...).
    #[error("{at}: {problem}; fix: {fix}")]
    Invalid {
        at: At,
        problem: String,
        fix: String,
    },

    #[error("{at}: the template is missing; fix: create it (every one of {} is required)", super::template::TEMPLATE_FILES.join(", "))]
    MissingTemplate { at: At },

    #[error("{at}: {problem}; fix: {fix}")]
    Template {
        at: At,
        problem: String,
        fix: String,
    },

    #[error("{} problems in the blueprints:\n  {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
    Many(Vec<BlueprintError>),
}

impl BlueprintError {
    /// One error as is, several as [`BlueprintError::Many`]; `None` for none.
    pub(crate) fn collect(mut errors: Vec<BlueprintError>) -> Option<BlueprintError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(BlueprintError::Many(errors)),
        }
    }

    /// The errors inside, flattened (a single error is a list of one).
    pub fn all(&self) -> Vec<&BlueprintError> {
        match self {
            BlueprintError::Many(v) => v.iter().flat_map(|e| e.all()).collect(),
            e => vec![e],
        }
    }
}

/// A problem rendering a service for a tenant, found by [`super::render()`].
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "service '{service}' is not in the catalog; fix: use one of the catalog's services (blueprints/catalog.yaml)"
    )]
    UnknownService { service: String },

    #[error("render context: {field} '{value}' is invalid: {problem}; fix: {fix}")]
    BadContext {
        field: &'static str,
        value: String,
        problem: String,
        fix: String,
    },

    #[error("service '{service}' consumes {}, but the tenant has no value for {}; fix: publish {} from the tenant stack (a `publish:` entry of a resource) or set {} with `envctl env set`",
        describe_keys(.keys), if .keys.len() == 1 { "it" } else { "them" },
        if .keys.len() == 1 { "it" } else { "them" }, if .keys.len() == 1 { "it" } else { "them" })]
    MissingValues {
        service: String,
        /// The missing KEYs and whether each is consumed as a secret.
        keys: Vec<(String, bool)>,
    },

    #[error(
        "service '{service}' consumes KEY '{key}' as a plain value, but the value store holds it as a secret; fix: move {key} from `env` to `secrets` of '{service}' in blueprints/catalog.yaml, so that it goes into a Secret and not a ConfigMap"
    )]
    SecretConsumedAsPlain { service: String, key: String },

    /// A rendered object is not what its template promises (not YAML, or of
    /// another kind or name): a template bug.
    #[error(
        "{template}: rendering service '{service}' gave {problem} (rendered line {line}: `{text}`); fix: correct the template around that output"
    )]
    BadOutput {
        template: PathBuf,
        service: String,
        problem: String,
        line: usize,
        text: String,
    },

    #[error("{} services cannot be rendered:\n  {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
    Many(Vec<RenderError>),
}

fn describe_keys(keys: &[(String, bool)]) -> String {
    let list: Vec<String> = keys
        .iter()
        .map(|(k, secret)| {
            if *secret {
                format!("{k} (secret)")
            } else {
                k.clone()
            }
        })
        .collect();
    if keys.len() == 1 {
        format!("KEY {}", list[0])
    } else {
        format!("KEYs {}", list.join(", "))
    }
}
