//! The deployment package of `aws.lambda.function`: a deterministic zip of
//! the source (the same files give the same CodeSha256) and its hash.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::kinds::KindError;

/// Direct uploads are limited to 50 MB zipped (Lambda quotas page).
const MAX_ZIP_BYTES: usize = 50 * 1024 * 1024;

/// Files under `dir` (relative path with '/', absolute path), skipping
/// hidden entries and Python bytecode caches.
fn collect(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "__pycache__" || name.ends_with(".pyc") {
            continue;
        }
        let path = entry.path();
        let rel_name = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if kind.is_dir() {
            collect(&path, &rel_name, out)?;
        } else if kind.is_symlink() && path.is_dir() {
            return Err(format!(
                "{} is a symbolic link to a directory, which is not packaged; copy it instead",
                path.display()
            ));
        } else {
            out.push((rel_name, path));
        }
    }
    Ok(())
}

/// A zip of `source` that depends only on the files' names, contents and
/// executable bits: entries sorted by path, timestamps 1980-01-01, Unix
/// permissions 0644/0755.
fn package(source: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(source).map_err(|e| format!("{}: {e}", source.display()))?;
    let mut files = Vec::new();
    if meta.is_dir() {
        collect(source, "", &mut files)?;
    } else {
        let name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| format!("{} has no file name", source.display()))?;
        files.push((name, source.to_path_buf()));
    }
    if files.is_empty() {
        return Err(format!("{} contains no files", source.display()));
    }
    files.sort();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, path) in files {
        let contents = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        #[cfg(unix)]
        let executable = {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        };
        #[cfg(not(unix))]
        let executable = false;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::DEFAULT)
            .system(zip::System::Unix)
            .unix_permissions(if executable { 0o755 } else { 0o644 });
        zip.start_file(name.as_str(), options)
            .and_then(|()| zip.write_all(&contents).map_err(Into::into))
            .map_err(|e| format!("zip {name}: {e}"))?;
    }
    let bytes = zip.finish().map_err(|e| format!("zip: {e}"))?.into_inner();
    if bytes.len() > MAX_ZIP_BYTES {
        return Err(format!(
            "{} zips to {} MB; Lambda accepts at most 50 MB uploaded directly",
            source.display(),
            bytes.len() / (1024 * 1024)
        ));
    }
    Ok(bytes)
}

/// Lambda's CodeSha256: base64 of the SHA-256 of the package.
pub(super) fn code_sha256(zip: &[u8]) -> String {
    aws_smithy_types::base64::encode(Sha256::digest(zip))
}

/// Packages `spec.source`, resolved against the current directory.
pub(super) async fn build_package(source: &Path) -> Result<Vec<u8>, KindError> {
    let resolved = if source.is_absolute() {
        source.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| KindError::Permanent(format!("current directory: {e}")))?
            .join(source)
    };
    let shown = source.display().to_string();
    let result = tokio::task::spawn_blocking(move || {
        if !resolved.exists() {
            return Err(format!(
                "{} does not exist (source paths are relative to the directory envctl runs in)",
                resolved.display()
            ));
        }
        package(&resolved)
    })
    .await
    .map_err(|e| KindError::Permanent(format!("packaging {shown}: {e}")))?;
    result.map_err(|m| KindError::Permanent(format!("properties: source {shown}: {m}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_deterministic_and_skip_caches() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("index.py"),
            "def handler(e, c):\n    return 1\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/util.py"), "X = 1\n").unwrap();
        let first = package(dir.path()).unwrap();
        // Caches, hidden files and new timestamps change nothing.
        std::fs::create_dir(dir.path().join("__pycache__")).unwrap();
        std::fs::write(dir.path().join("__pycache__/index.cpython-312.pyc"), "junk").unwrap();
        std::fs::write(dir.path().join(".DS_Store"), "junk").unwrap();
        std::fs::write(dir.path().join("lib/util.py"), "X = 1\n").unwrap();
        let second = package(dir.path()).unwrap();
        assert_eq!(code_sha256(&first), code_sha256(&second));
        // A changed file changes the package.
        std::fs::write(dir.path().join("lib/util.py"), "X = 2\n").unwrap();
        assert_ne!(
            code_sha256(&first),
            code_sha256(&package(dir.path()).unwrap())
        );
        // Entries are sorted by path.
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(first)).unwrap();
        let names: Vec<String> = (0..archive.len())
            .map(|i| archive.by_index(i).unwrap().name().unwrap().to_string())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(sorted, ["index.py", "lib/util.py"]);
    }
}
