//! The JSON API's handlers, one module per resource, and the contract every
//! handler keeps (checked by `integration/api_contract.rs` with an
//! OpenAPI 3.1 validator and Schemathesis):
//!
//! - **Extract with [`json`]'s `Json`, `Query` and `Path`**, never axum's:
//!   their rejections answer `{"error": "..."}` (400, 413 or 415) instead of
//!   axum's `text/plain`. Return `axum::Json` or `json::Json`.
//! - **Fail with `ApiError`** (`serve::app`): every error body is
//!   `{"error": "<sentence naming the field and the fix>"}`, schema
//!   `ErrorBody`. Never a Debug dump, never a secret.
//! - **Document every status the handler itself answers** in
//!   `#[utoipa::path(responses(...))]`: the success with a `description`
//!   and its body/content type, and each error it returns on purpose
//!   (`(status = 404, body = ErrorBody)`, also 403, 409, ...).
//!   [`openapi::Conventions`] adds the rest to every operation: 401 unless
//!   public, 400/413/415 when it takes a body, 400 when it takes a query,
//!   500, and a standard description for any error response without one.
//! - **Public routes** (no `Caller`) are listed in [`openapi::PUBLIC`] and
//!   get `security: []`; every other operation needs the bearer token or
//!   the session cookie (`Caller`).
//! - **State the constraints the handler enforces** in the request schema
//!   (`#[schema(min_length = 1, max_length = 40, pattern = "...")]`,
//!   `maximum`, ...), so that a body the schema accepts is one the handler
//!   could accept, and one it refuses the schema refuses too.
//! - A new route goes in `serve::router` with `routes!(...)`, so that it is
//!   in the document; an undocumented route fails the contract test.

pub mod admin;
pub mod hibernate;
pub mod json;
pub mod openapi;
pub mod pools;
pub mod rollouts;
pub mod runs;
pub mod session;
pub mod tenants;
