//! Built-in values a stack can use in any property string, written like a
//! reference to a resource named `envctl`: `${envctl.domain}`, the DNS
//! domain of this installation, under which tenant zones are made (from
//! `--domain` or `ENVCTL_DOMAIN`). They are substituted when the stack is
//! loaded — not at run time like references between resources — so that
//! validation sees the literal values (a reserved domain is refused at its
//! line, before anything is created) and no edge is added to the graph.
//! The resource id `envctl` is reserved for them.

use super::load::Problem;
use super::load::Seg;
use super::model::Stack;
use super::refs::{self, Ref};
use super::validate::At;
use crate::kinds::aws::route53::dns_name::domain_problem;

/// The name before the dot of every built-in value.
pub const BUILTIN_ID: &str = "envctl";
/// The environment variable that sets `${envctl.domain}` (and the default of
/// the global `--domain` option).
pub const DOMAIN_ENV: &str = "ENVCTL_DOMAIN";
/// What replaces an unusable built-in while the stack is checked further (so
/// that it is reported once, here, and not again as an unknown resource).
const PLACEHOLDER: &str = "unset.envctl-domain";

/// The values of the built-ins for one load.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Builtins {
    /// The installation's DNS domain, e.g. `envs.mycompany.com`.
    pub domain: Option<String>,
}

impl Builtins {
    /// `ENVCTL_DOMAIN` from the environment (empty counts as unset): for
    /// callers that have no command line (the server, its resume of runs).
    pub fn from_env() -> Self {
        Self {
            domain: std::env::var(DOMAIN_ENV)
                .ok()
                .filter(|d| !d.trim().is_empty()),
        }
    }

    pub fn with_domain(domain: impl Into<String>) -> Self {
        Self {
            domain: Some(domain.into()),
        }
    }
}

/// A problem found while substituting, located once the stack's lines are
/// known.
pub(crate) struct Issue {
    resource: usize,
    property: Option<String>,
    message: String,
}

impl Issue {
    pub(crate) fn problem(self, stack: &Stack, at: &At) -> Problem {
        let r = &stack.resources[self.resource];
        let line = match &self.property {
            Some(p) => at(Some(self.resource), &[Seg::Key("properties"), Seg::Key(p)]),
            None => 0,
        };
        let line = if line == 0 { r.line } else { line };
        let subject = if r.id.is_empty() {
            format!("resource #{}", self.resource + 1)
        } else {
            format!("resource '{}'", r.id)
        };
        Problem::new(line, Some(subject), self.message)
    }
}

/// The domain as it is substituted, or why it cannot be.
fn domain_value(b: &Builtins) -> Result<String, String> {
    let Some(raw) = &b.domain else {
        return Err(format!(
            "${{{BUILTIN_ID}.domain}} needs this installation's DNS domain and none is set: set \
             {DOMAIN_ENV} (or --domain) to a domain whose public hosted zone is in this AWS \
             account, e.g. {DOMAIN_ENV}=envs.mycompany.com"
        ));
    };
    let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    match domain_problem(&d) {
        None => Ok(d),
        Some(why) => Err(format!(
            "${{{BUILTIN_ID}.domain}}: {DOMAIN_ENV} (or --domain) '{raw}' is not a domain name: \
             {why}; set it to a domain such as envs.mycompany.com"
        )),
    }
}

/// Substitutes the built-ins into every resource's properties; reports a
/// resource named `envctl`, an unknown built-in, and a domain that is
/// needed but unset or malformed.
pub(crate) fn apply(stack: &mut Stack, b: &Builtins) -> Vec<Issue> {
    let domain = domain_value(b);
    let mut issues = Vec::new();
    for (i, r) in stack.resources.iter_mut().enumerate() {
        if r.id == BUILTIN_ID {
            issues.push(Issue {
                resource: i,
                property: None,
                message: format!(
                    "the id '{BUILTIN_ID}' is reserved for built-in values such as \
                     ${{{BUILTIN_ID}.domain}}; rename the resource"
                ),
            });
        }
        for (name, value) in r.properties.iter_mut() {
            let Ok(found) = refs::references(value) else {
                continue;
            };
            let mut reported = false;
            for f in found.iter().filter(|f| f.resource == BUILTIN_ID) {
                let message = match (f.output.as_str(), &domain) {
                    ("domain", Ok(_)) => continue,
                    ("domain", Err(why)) => why.clone(),
                    (other, _) => format!(
                        "${{{BUILTIN_ID}.{other}}} is not a built-in value; the built-ins are: \
                         ${{{BUILTIN_ID}.domain}}"
                    ),
                };
                if !reported {
                    issues.push(Issue {
                        resource: i,
                        property: Some(name.clone()),
                        message: format!("property '{name}': {message}"),
                    });
                    reported = true;
                }
            }
            if found.iter().any(|f| f.resource == BUILTIN_ID) {
                *value = refs::replace_some(value, &|f: &Ref| {
                    (f.resource == BUILTIN_ID).then(|| match (&domain, f.output.as_str()) {
                        (Ok(d), "domain") => d.clone(),
                        _ => PLACEHOLDER.to_string(),
                    })
                });
            }
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::model::Resource;
    use serde_json::json;

    fn stack(props: serde_json::Value, id: &str) -> Stack {
        Stack {
            path: "s.yaml".into(),
            name: "s".into(),
            environment: "dev".into(),
            budget: std::time::Duration::from_secs(60),
            ttl: None,
            expected: Default::default(),
            timeouts: Default::default(),
            limits: Default::default(),
            hibernate: None,
            resources: vec![Resource {
                id: id.into(),
                kind: "aws.route53.zone".into(),
                properties: props.as_object().unwrap().clone(),
                depends_on: vec![],
                wait_for: vec![],
                publish: vec![],
                pool: None,
                line: 7,
            }],
        }
    }

    fn messages(issues: &[Issue]) -> Vec<String> {
        issues.iter().map(|i| i.message.clone()).collect()
    }

    #[test]
    fn the_domain_is_substituted_at_load_and_other_references_stay() {
        let mut s = stack(
            json!({"subdomain_of": "${envctl.domain}", "x": "https://app.${envctl.domain}/${a.b}"}),
            "zone",
        );
        let issues = apply(&mut s, &Builtins::with_domain("Envs.MyCompany.com."));
        assert!(issues.is_empty(), "{:?}", messages(&issues));
        let p = &s.resources[0].properties;
        assert_eq!(p["subdomain_of"], json!("envs.mycompany.com"));
        assert_eq!(p["x"], json!("https://app.envs.mycompany.com/${a.b}"));
    }

    #[test]
    fn a_stack_that_needs_the_domain_without_one_names_envctl_domain() {
        let mut s = stack(json!({"subdomain_of": "${envctl.domain}"}), "zone");
        let issues = apply(&mut s, &Builtins::default());
        let m = messages(&issues);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("ENVCTL_DOMAIN"), "{}", m[0]);
        assert!(m[0].starts_with("property 'subdomain_of':"), "{}", m[0]);
        assert_eq!(issues[0].property.as_deref(), Some("subdomain_of"));
    }

    #[test]
    fn a_stack_without_the_domain_needs_none() {
        let mut s = stack(json!({"domain": "acme.envs.mycompany.com"}), "zone");
        assert!(apply(&mut s, &Builtins::default()).is_empty());
    }

    #[test]
    fn bad_domains_unknown_builtins_and_the_reserved_id_are_reported() {
        let mut s = stack(json!({"subdomain_of": "${envctl.domain}"}), "zone");
        let m = messages(&apply(&mut s, &Builtins::with_domain("not a domain")));
        assert!(
            m[0].contains("'not a domain' is not a domain name"),
            "{m:?}"
        );
        let mut s = stack(json!({"subdomain_of": "${envctl.domian}"}), "zone");
        let m = messages(&apply(&mut s, &Builtins::with_domain("envs.mycompany.com")));
        assert!(m[0].contains("${envctl.domian} is not a built-in"), "{m:?}");
        let mut s = stack(json!({}), "envctl");
        let m = messages(&apply(&mut s, &Builtins::default()));
        assert!(m[0].contains("reserved"), "{m:?}");
    }
}
