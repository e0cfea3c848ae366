//! The tenant's name: a validated RFC 1123 label, and the deterministic
//! physical names and tags every resource of a tenant gets.

use std::fmt;

/// Longest tenant name accepted; leaves room in 63-character cloud names.
pub const MAX_TENANT_LEN: usize = 40;

/// Longest note kept with a tenant, in characters.
pub const MAX_NOTE_LEN: usize = 500;

/// A tenant's free-text note: one line of at most [`MAX_NOTE_LEN`]
/// characters, without control characters (a NUL cannot be stored in
/// PostgreSQL text; newlines and escapes would break tables and logs).
pub fn check_note(note: &str) -> Result<(), String> {
    let len = note.chars().count();
    if len > MAX_NOTE_LEN {
        return Err(format!(
            "note: {len} characters is too long; write at most {MAX_NOTE_LEN}"
        ));
    }
    if let Some(c) = note.chars().find(|c| c.is_control()) {
        return Err(format!(
            "note: holds the control character {c:?}; write one line of plain text (no newlines, tabs or NUL)"
        ));
    }
    Ok(())
}

/// A tenant name that is known to be a lowercase RFC 1123 label of at most
/// [`MAX_TENANT_LEN`] characters. Only [`TenantName::parse`] builds one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct TenantName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid tenant name '{name}': {reason}; use 1-{max} characters of a-z, 0-9 and '-', starting and ending with a letter or digit (e.g. 'acme-staging')",
    max = MAX_TENANT_LEN
)]
pub struct InvalidTenantName {
    pub name: String,
    pub reason: &'static str,
}

impl TenantName {
    pub fn parse(name: &str) -> Result<Self, InvalidTenantName> {
        let bad = |reason| InvalidTenantName {
            name: name.to_string(),
            reason,
        };
        if name.is_empty() {
            return Err(bad("it is empty"));
        }
        if name.len() > MAX_TENANT_LEN {
            return Err(bad("it is longer than 40 characters"));
        }
        if name.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad("it contains uppercase letters"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(bad("it contains a character other than a-z, 0-9 or '-'"));
        }
        if name.starts_with('-') || name.ends_with('-') {
            return Err(bad("it starts or ends with '-'"));
        }
        if name == "common" {
            return Err(bad("'common' is the value store's shared level"));
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Tag keys stamped on every cloud resource envctl creates.
pub mod tags {
    pub const TENANT: &str = "envctl:tenant";
    pub const STACK: &str = "envctl:stack";
    pub const RESOURCE: &str = "envctl:resource";
    pub const MANAGED: &str = "envctl:managed";
    pub const ENVIRONMENT: &str = "envctl:environment";
    pub const EXPIRES_AT: &str = "envctl:expires-at";
    /// Left on purpose by a destroy (an RDS final snapshot): not swept, not
    /// an orphan; its value says what it is.
    pub const KEPT: &str = "envctl:kept";
    /// `<stack>/<resource>` of a warm-pool member that belongs to no tenant
    /// yet (`crate::pool`); a claim replaces it with the tenant's tags.
    pub const POOL: &str = "envctl:pool";
}

/// The deterministic physical name of a resource: `envctl-<tenant>-<id>`,
/// lowercased, with characters outside `[a-z0-9-]` turned into '-'. When that
/// is longer than `max_len`, it is cut and ends with 8 hex digits of a hash of
/// the full name, so distinct ids stay distinct.
pub fn physical_name(tenant: &TenantName, resource_id: &str, max_len: usize) -> String {
    use sha2::{Digest, Sha256};
    let raw = format!("envctl-{}-{}", tenant.as_str(), resource_id);
    let clean: String = raw
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean.len() <= max_len {
        return clean;
    }
    let digest = hex::encode(Sha256::digest(raw.as_bytes()));
    let keep = max_len.saturating_sub(9);
    format!("{}-{}", clean[..keep].trim_end_matches('-'), &digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_one_line_of_bounded_text() {
        check_note("demo for Initech – ünïcode is fine").unwrap();
        check_note(&"x".repeat(MAX_NOTE_LEN)).unwrap();
        let long = check_note(&"x".repeat(MAX_NOTE_LEN + 1)).unwrap_err();
        assert!(long.contains("at most 500"), "{long}");
        for bad in ["a\0b", "two\nlines", "tab\there", "esc\u{1b}[31m"] {
            let e = check_note(bad).unwrap_err();
            assert!(e.contains("control character"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn accepts_lowercase_labels() {
        assert_eq!(TenantName::parse("acme-2").unwrap().as_str(), "acme-2");
    }

    #[test]
    fn rejects_uppercase_underscore_long_and_edge_dashes() {
        for bad in [
            "Acme",
            "ac_me",
            "-acme",
            "acme-",
            "",
            "common",
            &"a".repeat(41),
        ] {
            let err = TenantName::parse(bad).unwrap_err();
            assert!(err.to_string().contains("invalid tenant name"), "{err}");
        }
        assert!(TenantName::parse(&"a".repeat(40)).is_ok());
    }

    #[test]
    fn physical_names_are_deterministic_and_bounded() {
        let t = TenantName::parse(&"t".repeat(40)).unwrap();
        let a = physical_name(&t, "uploads-bucket-with-a-long-id", 63);
        let b = physical_name(&t, "uploads-bucket-with-a-long-id-2", 63);
        assert!(a.len() <= 63 && b.len() <= 63);
        assert_ne!(a, b);
        assert_eq!(a, physical_name(&t, "uploads-bucket-with-a-long-id", 63));
        let short = TenantName::parse("acme").unwrap();
        assert_eq!(
            physical_name(&short, "Up_loads", 63),
            "envctl-acme-up-loads"
        );
    }
}
