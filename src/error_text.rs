//! Errors as text for people: the useful part of a library's error chain.

/// The innermost cause of an error chain ("Connection refused (os error
/// 111)"): what went wrong, without the wrappers around it.
pub fn innermost_cause(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        message = e.to_string();
        cause = e.source();
    }
    message
}
