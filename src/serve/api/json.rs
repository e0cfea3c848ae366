//! The API's extractors and fallbacks, so that every answer — a request
//! body that is not JSON, a query that does not parse, a route that does not
//! exist, a method a route does not take — is `{"error": "..."}` JSON with a
//! documented status, never axum's `text/plain` rejections.
//!
//! Handlers take [`Json`], [`Query`] and [`Path`] from here instead of
//! axum's; [`Json`] answers with `axum::Json` when returned.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::serve::app::ApiError;

/// How the body limit is stated to callers; axum's default body limit.
pub const BODY_LIMIT: &str = "2 MB";

/// A JSON request body (or response). A body that is not a JSON object,
/// lacks `Content-Type: application/json`, is too large or does not fit the
/// type answers 400, 415 or 413 as `{"error"}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        // An object first: serde would also read a struct from a JSON array.
        let object = match axum::Json::<serde_json::Map<String, Value>>::from_request(req, state)
            .await
        {
            Ok(axum::Json(object)) => object,
            Err(JsonRejection::JsonDataError(_)) => {
                return Err(ApiError::bad_request(
                    "the request body must be a JSON object; GET /api/openapi.json shows its fields",
                ));
            }
            Err(rejection) => return Err(body_error(&rejection)),
        };
        serde_path_to_error::deserialize(Value::Object(object))
            .map(Json)
            .map_err(|e| {
                ApiError::bad_request(format!(
                    "the request body does not fit this operation ({e}); GET /api/openapi.json shows its fields"
                ))
            })
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// What axum said after its fixed prefix ("Failed to parse ...: <detail>").
fn detail(text: &str) -> &str {
    text.split_once(": ").map_or(text, |(_, d)| d)
}

/// A body rejection as a sentence: what is wrong with the body and how to
/// send it. (A body that does not fit the operation is a 400 like every
/// other invalid field, not axum's 422: see `Json::from_request`.)
fn body_error(rejection: &JsonRejection) -> ApiError {
    let text = rejection.body_text();
    match rejection {
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request(format!(
            "the request body is not valid JSON ({}); send a JSON object with `Content-Type: application/json`",
            detail(&text)
        )),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the request body must be JSON: send it with `Content-Type: application/json`",
        ),
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than this server accepts ({BODY_LIMIT}); send a smaller one"
            ),
        ),
        _ => ApiError::new(
            rejection.status(),
            format!(
                "could not read the request body ({}); send it again",
                detail(&text)
            ),
        ),
    }
}

/// A query string deserialized into `T`; one that does not fit answers 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|r: QueryRejection| {
                ApiError::bad_request(format!(
                    "the query string does not fit this operation ({}); GET /api/openapi.json shows its parameters",
                    detail(&r.body_text())
                ))
            })
    }
}

/// Path parameters deserialized into `T`; ones that do not fit answer 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|r: PathRejection| {
                let status = if r.status().is_server_error() {
                    r.status()
                } else {
                    StatusCode::BAD_REQUEST
                };
                ApiError::new(
                    status,
                    format!(
                        "the path does not fit this operation ({})",
                        detail(&r.body_text())
                    ),
                )
            })
    }
}

/// Answers a route that does not exist: 404 `{"error"}`.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "nothing answers {method} {}; GET /api/openapi.json lists the API",
        uri.path()
    ))
}

/// Answers a method a route does not take: 405 `{"error"}` (axum keeps the
/// `Allow` header).
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} does not answer {method}; the Allow header and GET /api/openapi.json list what it takes",
            uri.path()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::post;
    use tower::ServiceExt;

    #[derive(serde::Deserialize)]
    struct Named {
        #[allow(dead_code)]
        name: String,
    }

    async fn take(Json(_): Json<Named>) -> &'static str {
        "ok"
    }

    async fn send(content_type: Option<&str>, body: Vec<u8>) -> (StatusCode, String, String) {
        let app = axum::Router::new()
            .route("/t", post(take))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed);
        let mut req = axum::http::Request::post("/t");
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = app
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
    }

    fn error_of(body: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        v["error"].as_str().expect("an error string").to_string()
    }

    #[tokio::test]
    async fn every_body_rejection_is_a_json_error_with_its_status() {
        let json = Some("application/json");
        let cases: [(Option<&str>, Vec<u8>, StatusCode, &str); 6] = [
            (
                json,
                b"{not json".to_vec(),
                StatusCode::BAD_REQUEST,
                "not valid JSON",
            ),
            (
                json,
                b"{}".to_vec(),
                StatusCode::BAD_REQUEST,
                "missing field `name`",
            ),
            (
                json,
                br#"["x"]"#.to_vec(),
                StatusCode::BAD_REQUEST,
                "must be a JSON object",
            ),
            (
                json,
                br#"{"name": 1}"#.to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid type",
            ),
            (
                Some("text/plain"),
                b"{}".to_vec(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type: application/json",
            ),
            (
                json,
                vec![b' '; 3 * 1024 * 1024],
                StatusCode::PAYLOAD_TOO_LARGE,
                "larger than",
            ),
        ];
        for (ct, body, status, says) in cases {
            let (got, content_type, text) = send(ct, body).await;
            assert_eq!(got, status, "{text}");
            assert_eq!(content_type, "application/json", "{text}");
            assert!(error_of(&text).contains(says), "{text} should say {says}");
        }
        let (got, _, _) = send(json, br#"{"name": "x"}"#.to_vec()).await;
        assert_eq!(got, StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_routes_and_wrong_methods_answer_json() {
        let app = axum::Router::new()
            .route("/t", post(take))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed);
        for (method, path, status) in [
            ("GET", "/nothing", StatusCode::NOT_FOUND),
            ("DELETE", "/t", StatusCode::METHOD_NOT_ALLOWED),
        ] {
            let req = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap();
            let resp = app.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), status);
            assert_eq!(resp.headers()["content-type"], "application/json");
            if status == StatusCode::METHOD_NOT_ALLOWED {
                assert_eq!(resp.headers()["allow"], "POST");
            }
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            assert!(error_of(std::str::from_utf8(&bytes).unwrap()).contains(path));
        }
    }
}
