//! Validation of a stack against the kinds (stub).
