//! Keeps secret values out of messages: every secret output seen in a run is
//! registered here, and every error text passes through [`Redactor::redact`]
//! before it reaches the journal, the progress stream or a log.

use std::sync::{Arc, Mutex};

use crate::kinds::Outputs;
use crate::secret::MASK;

#[derive(Clone, Default)]
pub struct Redactor(Arc<Mutex<Vec<String>>>);

impl Redactor {
    pub fn learn(&self, outputs: &Outputs) {
        let mut known = self.0.lock().expect("redactor");
        for (_, v) in outputs.iter().filter(|(_, v)| v.is_secret()) {
            let s = v.expose().to_string();
            if !s.is_empty() && !known.contains(&s) {
                known.push(s);
            }
        }
    }

    /// Whether `value` holds a secret seen in this run.
    pub fn holds_secret(&self, value: &str) -> bool {
        let known = self.0.lock().expect("redactor");
        known.iter().any(|secret| value.contains(secret.as_str()))
    }

    pub fn redact(&self, message: &str) -> String {
        let known = self.0.lock().expect("redactor");
        known.iter().fold(message.to_string(), |m, secret| {
            m.replace(secret.as_str(), MASK)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretString;

    #[test]
    fn known_secrets_are_masked_in_messages() {
        let r = Redactor::default();
        r.learn(
            &Outputs::new()
                .secret("value", SecretString::new("s3cr3t-pw"))
                .plain("host", "db"),
        );
        assert_eq!(
            r.redact("login with s3cr3t-pw at db failed"),
            format!("login with {MASK} at db failed")
        );
    }
}
