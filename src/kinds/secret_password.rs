//! The `secret.password` kind: a random password generated once per tenant
//! and kept only in the value store. A rerun adopts the stored value, so the
//! password stays the same for as long as its published value exists.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use rand::rngs::{StdRng, SysRng};
use rand::{RngExt, SeedableRng};
use schemars::JsonSchema;
use serde::Deserialize;

use super::schema::{KindProps, PropSchema};
use super::{Cx, Kind, KindError, OutputSpec, Outputs, Props};
use crate::secret::SecretString;

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
/// Punctuation that survives shells, URLs' userinfo (mostly), JSON and
/// YAML without quoting trouble, and that RDS accepts in master passwords
/// (it refuses `/`, `@`, `"` and space).
const SPECIAL: &[u8] = b"!#$%&*+-.:;<=>?^_~";

pub struct Password;

/// A random password generated once per tenant and kept only in the value
/// store (publish its `value` with `secret: true`); a rerun adopts the stored
/// value, so the password stays the same until its published value is
/// deleted.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PasswordProps {
    /// Number of characters.
    #[serde(default = "default_length")]
    #[schemars(range(min = 16, max = 128))]
    length: usize,
    /// Also use punctuation (`!#$%&*+-.:;<=>?^_~`); otherwise letters and
    /// digits only.
    #[serde(default)]
    special: bool,
}

impl KindProps for PasswordProps {}

fn default_length() -> usize {
    32
}

const NAME: &str = "secret.password";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<PasswordProps>(NAME));

static OUTPUTS: &[OutputSpec] = &[OutputSpec {
    name: "value",
    secret: true,
    doc: "the password; publish it with secret: true",
}];

/// A random password of `length` characters from an OS-seeded CSPRNG, with
/// at least one lower-case letter, upper-case letter and digit (and one
/// punctuation character with `special`). Drawing again until a candidate
/// has them keeps every such password equally likely.
pub(crate) fn generate(length: usize, special: bool) -> Result<String, KindError> {
    let mut rng = StdRng::try_from_rng(&mut SysRng)
        .map_err(|e| KindError::Permanent(format!("no randomness from the OS: {e}")))?;
    let mut classes = vec![LOWER, UPPER, DIGITS];
    if special {
        classes.push(SPECIAL);
    }
    let alphabet: Vec<u8> = classes.concat();
    loop {
        let candidate: Vec<u8> = (0..length)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        if classes
            .iter()
            .all(|class| candidate.iter().any(|c| class.contains(c)))
        {
            return Ok(String::from_utf8(candidate).expect("ASCII alphabet"));
        }
    }
}

#[async_trait]
impl Kind for Password {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "secret"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// One GetObject on the value store (tens of milliseconds on S3) plus
    /// generation: ~0.1 s.
    fn expected(&self) -> Duration {
        Duration::from_millis(100)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: PasswordProps = SCHEMA.parse(props)?;
        let Some(home) = cx.publish.first() else {
            return Err(KindError::Permanent(format!(
                "secret.password '{}' must be published: add a publish entry for its `value` \
                 output with secret: true (the value store is the only place it is kept)",
                cx.resource_id
            )));
        };
        // A value that is already stored is the password: adopt it, even if
        // the properties changed (delete the value to rotate it).
        let stored = cx.backends.values.get(home).await.map_err(|e| {
            let message = format!("reading the stored password: {e}");
            if e.is_transient() {
                KindError::Transient(message)
            } else {
                KindError::Permanent(message)
            }
        })?;
        let value = match stored {
            Some(v) => v.value,
            None => SecretString::new(generate(p.length, p.special)?),
        };
        Ok(Outputs::new().secret("value", value))
    }

    /// Nothing to delete here: the engine deletes the tenant's published
    /// values, which is where the password lives.
    async fn delete(&self, _cx: &Cx, _out: &Outputs) -> Result<(), KindError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_have_the_length_and_classes_asked_for() {
        for _ in 0..200 {
            let p = generate(16, false).unwrap();
            assert_eq!(p.len(), 16);
            assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            let s = generate(128, true).unwrap();
            assert_eq!(s.len(), 128);
            assert!(s.bytes().any(|c| SPECIAL.contains(&c)));
        }
        assert_ne!(generate(32, false).unwrap(), generate(32, false).unwrap());
    }
}
