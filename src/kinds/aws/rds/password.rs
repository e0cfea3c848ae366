//! The master password of `aws.rds.instance`, which goes nowhere but the
//! RDS API: its rules, masking it in every message, and the salted
//! fingerprint the instance keeps in a tag instead of it.

use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};

use crate::kinds::{KindError, Props};
use crate::secret::{MASK, SecretString};

/// Tag holding the salted SHA-256 fingerprint of the master password.
pub const PASSWORD_TAG: &str = "envctl:password-sha256";

pub(super) fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::new)
}

/// Printable ASCII except `/`, `"`, `@` and space, 8 characters or more, at
/// most 41 for MySQL and MariaDB, 30 for Oracle, 128 otherwise. The message
/// never shows the password.
pub(super) fn check_password(engine: &str, password: &str) -> Result<(), String> {
    let max = match engine {
        "mysql" | "mariadb" => 41,
        e if e.starts_with("oracle") => 30,
        _ => 128,
    };
    let n = password.chars().count();
    if !(8..=max).contains(&n) {
        return Err(format!(
            "has {n} characters; {engine} takes 8 to {max} (use a secret.password resource \
             with a length in that range)"
        ));
    }
    if password
        .chars()
        .any(|c| !c.is_ascii_graphic() || matches!(c, '/' | '"' | '@'))
    {
        return Err(
            "contains a character RDS refuses ('/', '\"', '@', a space or a non-printable or \
             non-ASCII character); a secret.password resource never does"
                .into(),
        );
    }
    Ok(())
}

/// The clear password of the raw properties, however it was given, to mask
/// it in any error `apply` returns (even one about another property that
/// was given the same value by mistake).
pub(super) fn raw_password(props: &Props) -> Option<String> {
    match props.get("password")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// `text` with `secret` masked, as written and as escaped in quotes.
pub(super) fn mask(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    let escaped = format!("{secret:?}");
    let escaped = escaped.trim_matches('"');
    text.replace(secret, MASK).replace(escaped, MASK)
}

/// Masks `secret` in an error message, as written and as escaped in quotes.
pub(super) fn redact(e: KindError, secret: Option<&str>) -> KindError {
    let Some(s) = secret.filter(|s| !s.is_empty()) else {
        return e;
    };
    let clean = |m: String| mask(&m, s);
    match e {
        KindError::Transient(m) => KindError::Transient(clean(m)),
        KindError::Permanent(m) => KindError::Permanent(clean(m)),
        KindError::Unconfigured(m) => KindError::Unconfigured(clean(m)),
        KindError::Waiting {
            message,
            waiting_for,
            within,
        } => KindError::Waiting {
            message: clean(message),
            waiting_for,
            within,
        },
    }
}

/// The fingerprint kept in [`PASSWORD_TAG`]: SHA-256 over a fixed prefix,
/// the identifier (a salt: equal passwords of two instances differ) and the
/// password. One-way; the passwords are random (secret.password: 16 to 128
/// characters), so it cannot be searched back.
pub(super) fn fingerprint(identifier: &str, password: &SecretString) -> String {
    let mut h = Sha256::new();
    h.update(b"envctl rds master password\0");
    h.update(identifier.as_bytes());
    h.update(b"\0");
    h.update(password.expose().as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules_are_checked_without_showing_it() {
        assert!(check_password("postgres", "Abcdefgh12345678").is_ok());
        for bad in [
            "short1A",
            "has space 123",
            "with/slash12",
            "with@at12345",
            "quo\"te12345",
        ] {
            let e = check_password("postgres", bad).unwrap_err().to_string();
            assert!(!e.contains(bad), "{e}");
        }
        assert!(check_password("mysql", &"a".repeat(42)).is_err());
        assert!(check_password("postgres", &"a".repeat(128)).is_ok());
    }

    #[test]
    fn redaction_masks_plain_and_escaped_forms() {
        let e = KindError::Permanent("bad \"pa\\\\ss1234\" and pa\\ss1234".into());
        let r = redact(e, Some("pa\\ss1234")).to_string();
        assert!(
            !r.contains("pa\\ss1234") && !r.contains("pa\\\\ss1234"),
            "{r}"
        );
        assert!(r.contains(MASK));
        let t = redact(KindError::Transient("x".into()), Some("secret12"));
        assert!(t.is_transient());
    }

    #[test]
    fn fingerprints_depend_on_identifier_and_password() {
        let a = fingerprint("envctl-a-db", &SecretString::new("Password1234"));
        assert_eq!(a.len(), 64);
        assert!(!a.contains("Password1234"));
        assert_eq!(
            a,
            fingerprint("envctl-a-db", &SecretString::new("Password1234"))
        );
        assert_ne!(
            a,
            fingerprint("envctl-b-db", &SecretString::new("Password1234"))
        );
        assert_ne!(
            a,
            fingerprint("envctl-a-db", &SecretString::new("Password1235"))
        );
    }
}
