//! What is wrong with a stack file: one [`Problem`] per mistake (line,
//! subject, message with its fix) and the [`StackError`] that renders them
//! as `file:line: subject: message`, one per line.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem of a stack file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// `resource 'db'` (or `resource #3` when it has no id), if it is about one.
    pub subject: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Problem {
    pub fn new(line: usize, subject: Option<String>, message: String) -> Self {
        Self {
            line,
            subject,
            message,
        }
    }
}

/// Why a stack file cannot be used. Displays as complete messages, one
/// problem per line: `stacks/tenant.yaml:14: resource 'db': ... ; fix`.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{}: cannot read the stack file: {source}; check the path", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

impl StackError {
    /// Problems sorted by line (unknown lines last).
    pub fn invalid(path: &Path, mut problems: Vec<Problem>) -> Self {
        problems.sort_by_key(|p| if p.line == 0 { usize::MAX } else { p.line });
        StackError::Invalid {
            path: path.to_path_buf(),
            problems,
        }
    }

    pub fn problems(&self) -> &[Problem] {
        match self {
            StackError::Read { .. } => &[],
            StackError::Invalid { problems, .. } => problems,
        }
    }
}

fn render(path: &Path, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (n, p) in problems.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        out.push_str(&path.display().to_string());
        if p.line > 0 {
            out.push_str(&format!(":{}", p.line));
        }
        out.push_str(": ");
        if let Some(s) = &p.subject {
            out.push_str(s);
            out.push_str(": ");
        }
        out.push_str(&p.message);
    }
    out
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        if let Some(s) = &self.subject {
            write!(f, "{s}: ")?;
        }
        f.write_str(&self.message)
    }
}
