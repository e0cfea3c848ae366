//! How to reach a tenant: the URLs its stack publishes as `PUBLIC_URL` and
//! `API_URL` (plain values, never secret), found from the stack's publish
//! entries and the journal's last outputs of those nodes. Kept beside cost
//! because the tenant list reads both from the same per-tenant facts. A
//! stored value is untrusted: only an absolute http(s) URL is handed on.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::stack::Stack;

/// The value-store KEYs that hold a tenant's public URLs, in page order.
pub const URL_KEYS: &[&str] = &["PUBLIC_URL", "API_URL"];

/// One URL of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct TenantUrl {
    /// The KEY it is published as, e.g. `PUBLIC_URL`.
    pub name: String,
    /// An absolute `http` or `https` URL.
    pub url: String,
}

/// Which output of which node publishes each URL KEY: (key, node, output).
pub fn url_sources(stack: &Stack) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for key in URL_KEYS {
        for r in &stack.resources {
            for p in r.publish.iter().filter(|p| p.key == *key && !p.secret) {
                out.push((key.to_string(), r.id.clone(), p.output.clone()));
            }
        }
    }
    out
}

/// The tenant's URLs from its nodes' last outputs (node -> outputs).
pub fn urls_of(
    sources: &[(String, String, String)],
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> Vec<TenantUrl> {
    let mut out: Vec<TenantUrl> = Vec::new();
    for (key, node, output) in sources {
        let Some(value) = outputs.get(node).and_then(|o| o.get(output)) else {
            continue;
        };
        if is_web_url(value) && !out.iter().any(|u| u.name == *key) {
            out.push(TenantUrl {
                name: key.clone(),
                url: value.trim().to_string(),
            });
        }
    }
    out
}

/// An absolute http(s) URL with a host and no whitespace or control
/// characters: what the page may render as a link.
pub fn is_web_url(s: &str) -> bool {
    let s = s.trim();
    let rest = match s.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http") =>
        {
            rest
        }
        _ => return false,
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty()
        && !host.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && !s.contains(['"', '<', '>', '\\'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_web_urls_pass() {
        for ok in [
            "https://app.acme.example.net",
            "http://api.acme.example.net/v1?x=1",
            "HTTPS://A.B",
        ] {
            assert!(is_web_url(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://",
            "//evil.example",
            "https://user:pw@host.example",
            "https://a.example/\" onclick=\"x",
            "https://a.example/<script>",
            "ftp://files.example",
            "https://a b.example",
            "app.acme.example.net",
        ] {
            assert!(!is_web_url(bad), "{bad}");
        }
    }

    #[test]
    fn urls_come_from_the_publishing_nodes_last_outputs() {
        let sources = vec![
            ("PUBLIC_URL".into(), "public-url".into(), "value".into()),
            ("API_URL".into(), "api-url".into(), "value".into()),
        ];
        let mut outputs = BTreeMap::new();
        outputs.insert(
            "public-url".to_string(),
            BTreeMap::from([("value".to_string(), "https://app.t.example".to_string())]),
        );
        outputs.insert(
            "api-url".to_string(),
            BTreeMap::from([("value".to_string(), "javascript:alert(1)".to_string())]),
        );
        assert_eq!(
            urls_of(&sources, &outputs),
            vec![TenantUrl {
                name: "PUBLIC_URL".into(),
                url: "https://app.t.example".into()
            }]
        );
    }

    #[test]
    fn the_default_stack_publishes_both_urls() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/tenant.yaml");
        let stack = crate::stack::load_file_in(
            &path,
            &crate::stack::Builtins::with_domain("envctl-demo.net"),
        )
        .unwrap();
        let s = url_sources(&stack);
        assert_eq!(
            s,
            vec![
                ("PUBLIC_URL".into(), "public-url".into(), "value".into()),
                ("API_URL".into(), "api-url".into(), "value".into())
            ]
        );
    }
}
