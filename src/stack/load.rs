//! Parsing a stack file (stub: to be written).
use std::path::Path;
use super::Stack;
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StackError(pub String);
pub fn load_file(_path: &Path) -> Result<Stack, StackError> { todo!() }
pub fn load_str(_path: &Path, _text: &str) -> Result<Stack, StackError> { todo!() }
