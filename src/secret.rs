//! A string that must never be printed: its `Debug` and `Display` show a mask,
//! and it does not implement `Serialize`, so it cannot leak into state or output
//! by accident. Read it only with [`SecretString::expose`].

use std::fmt;

pub const MASK: &str = "********";

#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The clear value, for the few places that must send it on (the value
    /// store, a Kubernetes Secret).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_mask_the_value() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), format!("{MASK} {MASK}"));
        assert_eq!(s.expose(), "hunter2");
    }
}
