//! Domain names as Route 53 and ACM take them: normalizing, the syntax
//! rules, and the names reserved by RFC 2606 / RFC 6761 that no public
//! certificate authority will certify. Pure functions, shared by the zone,
//! record and certificate kinds, stack validation and preflight.
//!
//! Sources: Route 53 Developer Guide, "DNS domain name format" (labels of
//! 1-63 characters, names of at most 255 bytes on the wire, i.e. 253
//! characters written without the final dot; a-z, 0-9, '-' and '_' plus
//! escaped others; `*` only as the leftmost label); ACM API reference,
//! RequestCertificate `DomainName` ("Length Constraints: Minimum length of 1.
//! Maximum length of 253", pattern `(\*\.)?(((?!-)[A-Za-z0-9-]{0,62}[A-Za-z0-9])\.)+((?!-)[A-Za-z0-9-]{1,62}[A-Za-z0-9])`,
//! and the User Guide: "the total length of the domain name cannot exceed
//! 253 octets", a wildcard "can protect only one subdomain level").

use crate::kinds::KindError;

/// Longest domain name, written without the final dot.
pub const MAX_NAME: usize = 253;
/// Longest label.
pub const MAX_LABEL: usize = 63;

/// Why `name` (lowercase, no trailing dot) is not a domain name Route 53
/// hosts, or `None` when it is one: at least two labels of 1-63 characters
/// of a-z, 0-9, '-' and '_', no label starting or ending with '-', at most
/// 253 characters.
pub fn domain_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > MAX_NAME {
        return Some(format!(
            "it has {} characters; at most {MAX_NAME} are allowed",
            name.len()
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Some("it needs at least two labels (e.g. acme.example.com)".into());
    }
    for label in labels {
        if label.is_empty() || label.len() > MAX_LABEL {
            return Some(format!(
                "label '{label}' has {} characters; every label needs 1-{MAX_LABEL}",
                label.len()
            ));
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Some(format!(
                "label '{label}' has characters other than a-z, 0-9, '-' and '_'"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("label '{label}' starts or ends with '-'"));
        }
    }
    None
}

/// A domain name as envctl keeps it: lowercase, no trailing dot, validated
/// ([`domain_problem`]). `prop` names the property in messages.
pub fn normalize_domain(prop: &str, raw: &str) -> Result<String, KindError> {
    let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    match domain_problem(&name) {
        None => Ok(name),
        Some(why) => Err(KindError::Permanent(format!(
            "properties: {prop} '{raw}' is not a valid domain name: {why} (e.g. acme.example.com)"
        ))),
    }
}

/// Why `name` cannot be the name of a public ACM certificate, or `None`:
/// a domain name ([`domain_problem`]), optionally with a leading `*.`
/// (one wildcard, leftmost only, and not directly under a top-level
/// domain), and ACM's 253 characters including the `*.`.
pub fn certificate_name_problem(raw: &str) -> Option<String> {
    let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    if name.len() > MAX_NAME {
        return Some(format!(
            "it has {} characters; ACM allows at most {MAX_NAME}",
            name.len()
        ));
    }
    let bare = match name.strip_prefix("*.") {
        Some(rest) => {
            if rest.split('.').count() < 2 {
                return Some(
                    "a wildcard needs a registered domain under it (*.acme.example.com)".into(),
                );
            }
            rest
        }
        None => &name,
    };
    if bare.contains('*') {
        return Some(
            "'*' is allowed only once, as the leftmost label ('*.acme.example.com')".into(),
        );
    }
    if bare.contains('_') {
        return Some("ACM does not accept '_' in certificate names".into());
    }
    domain_problem(bare)
}

/// The names no public certificate authority certifies, with their source.
/// Each entry is a suffix: the name itself and everything below it.
const RESERVED: &[(&str, &str)] = &[
    (
        "test",
        "the .test top-level domain is reserved for testing (RFC 2606 §2, RFC 6761 §6.2)",
    ),
    (
        "example",
        "the .example top-level domain is reserved for documentation (RFC 2606 §2)",
    ),
    (
        "invalid",
        "the .invalid top-level domain is reserved to be invalid (RFC 2606 §2, RFC 6761 §6.4)",
    ),
    (
        "localhost",
        "the .localhost top-level domain is reserved for loopback (RFC 2606 §2, RFC 6761 §6.3)",
    ),
    (
        "local",
        "the .local top-level domain is reserved for multicast DNS (RFC 6762)",
    ),
    (
        "onion",
        "the .onion top-level domain is reserved for Tor (RFC 7686)",
    ),
    (
        "example.com",
        "example.com is reserved for documentation (RFC 2606 §3)",
    ),
    (
        "example.net",
        "example.net is reserved for documentation (RFC 2606 §3)",
    ),
    (
        "example.org",
        "example.org is reserved for documentation (RFC 2606 §3)",
    ),
];

/// Why `name` (or a `*.` wildcard of it) can never get a public
/// certificate, or `None`: it is, or is under, a name reserved by RFC 2606 /
/// RFC 6761, which ACM cannot validate.
pub fn reserved(name: &str) -> Option<&'static str> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let name = name.trim_start_matches("*.");
    RESERVED
        .iter()
        .find(|(suffix, _)| {
            name == *suffix
                || name
                    .strip_suffix(suffix)
                    .is_some_and(|head| head.ends_with('.'))
        })
        .map(|(_, why)| *why)
}

/// A name as Route53 returns it, made comparable: `\ddd` escapes decoded
/// (Route53 lists `*` as `\052`), lowercase, no trailing dot.
pub fn dns_name(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 3 < chars.len() {
            let digits: Option<Vec<u32>> =
                chars[i + 1..i + 4].iter().map(|c| c.to_digit(8)).collect();
            if let Some(d) = digits
                && let Some(c) = char::from_u32(d[0] * 64 + d[1] * 8 + d[2])
            {
                out.push(c);
                i += 4;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out.trim_end_matches('.').to_ascii_lowercase()
}

/// A name with its labels reversed, the order in which ListResourceRecordSets
/// sorts (`app.acme.example.com` → `com.example.acme.app`).
pub fn reversed_name(name: &str) -> String {
    let mut labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    labels.reverse();
    labels.join(".")
}

/// The parent domain of `name` (`acme.example.com` → `example.com`);
/// `None` for a top-level domain.
pub fn parent_of(name: &str) -> Option<&str> {
    name.split_once('.').map(|(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalized_and_checked() {
        assert_eq!(
            normalize_domain("domain", " Acme.Example.COM. ").unwrap(),
            "acme.example.com"
        );
        for bad in ["", "com", "a..b", "-a.b", "a-.b", "a b.c", "ä.example"] {
            assert!(normalize_domain("domain", bad).is_err(), "{bad}");
        }
        assert!(domain_problem(&format!("{}.com", "a".repeat(64))).is_some());
        assert!(domain_problem(&format!("{}.com", "a".repeat(63))).is_none());
        let long = vec!["a".repeat(60); 5].join(".");
        assert!(long.len() > MAX_NAME);
        assert!(domain_problem(&long).unwrap().contains("at most 253"));
    }

    #[test]
    fn reserved_names_are_the_rfc_2606_and_6761_ones_and_what_is_below_them() {
        for name in [
            "test",
            "acme.example.test",
            "x.example",
            "a.invalid",
            "app.localhost",
            "example.com",
            "acme.example.com",
            "*.acme.example.org",
            "Example.NET.",
        ] {
            assert!(reserved(name).is_some(), "{name}");
        }
        for name in [
            "acme.envctl.dev",
            "testing.com",
            "myexample.com",
            "example.co",
            "contest.io",
            "example.com.au",
        ] {
            assert_eq!(reserved(name), None, "{name}");
        }
        assert!(reserved("a.example.test").unwrap().contains("RFC 6761"));
    }

    #[test]
    fn certificate_names_follow_acm_rules() {
        assert_eq!(certificate_name_problem("acme.envctl.dev"), None);
        assert_eq!(certificate_name_problem("*.acme.envctl.dev"), None);
        assert!(certificate_name_problem("*.com").is_some());
        assert!(certificate_name_problem("a.*.envctl.dev").is_some());
        assert!(certificate_name_problem("*.*.envctl.dev").is_some());
        assert!(certificate_name_problem("_x.envctl.dev").is_some());
        let long = format!("*.{}", vec!["a".repeat(50); 5].join("."));
        assert!(long.len() > 253);
        assert!(certificate_name_problem(&long).unwrap().contains("253"));
    }

    #[test]
    fn route53_names_are_decoded() {
        assert_eq!(dns_name("\\052.Acme.example.com."), "*.acme.example.com");
        assert_eq!(dns_name("app.acme.example.com"), "app.acme.example.com");
        assert_eq!(dns_name("a\\"), "a\\");
        assert_eq!(reversed_name("app.acme.com."), "com.acme.app");
        assert_eq!(parent_of("acme.example.com"), Some("example.com"));
        assert_eq!(parent_of("com"), None);
    }
}
