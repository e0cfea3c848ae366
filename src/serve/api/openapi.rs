//! The OpenAPI document's conventions, applied once to every operation after
//! the routes are collected: which routes are public (`security: []`), the
//! responses every operation of a kind can give (401, body and query
//! rejections, 500), a description and a JSON body for every error
//! response, and the routes served outside the handlers' annotations (the
//! document itself, the page and its assets).

use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{Object, Type};
use utoipa::openapi::{Content, OpenApi, RefOr, Response, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

use crate::serve::app::ErrorBody;

/// The routes anyone may call; every other operation needs a bearer token
/// or the session cookie.
pub const PUBLIC: &[&str] = &[
    "/healthz",
    "/metrics",
    "/api/login",
    "/api/logout",
    OPENAPI_PATH,
    "/",
    "/assets/app.js",
    "/assets/style.css",
];

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// Files served beside the API: path, content type, what it is.
const STATIC: &[(&str, &str, &str)] = &[
    ("/", "text/html", "the web page"),
    ("/assets/app.js", "text/javascript", "the page's script"),
    ("/assets/style.css", "text/css", "the page's style sheet"),
];

/// Applies the conventions of `api/mod.rs` to a collected document.
pub struct Conventions;

impl utoipa::Modify for Conventions {
    fn modify(&self, doc: &mut OpenApi) {
        let error_schema = ErrorBody::name().to_string();
        let components = doc.components.get_or_insert_with(Default::default);
        components
            .schemas
            .entry(error_schema.clone())
            .or_insert_with(ErrorBody::schema);
        for (path, item) in doc.paths.paths.iter_mut() {
            let public = PUBLIC.contains(&path.as_str());
            for op in operations(item) {
                let takes_query = op.parameters.iter().flatten().any(|p| match p {
                    RefOr::T(p) => p.parameter_in == ParameterIn::Query,
                    RefOr::Ref(_) => false,
                });
                let mut add: Vec<u16> = vec![500];
                if public {
                    op.security = Some(Vec::new());
                } else {
                    add.push(401);
                }
                if op.request_body.is_some() {
                    add.extend([400, 413, 415]);
                }
                if takes_query {
                    add.push(400);
                }
                for status in add {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::T(Response::default()));
                }
                for (status, response) in op.responses.responses.iter_mut() {
                    if let RefOr::T(response) = response {
                        complete_error(status, response, &error_schema);
                    }
                }
            }
        }
        doc.paths.add_path_operation(
            OPENAPI_PATH,
            vec![HttpMethod::Get],
            public_get(
                "admin",
                "This document: the API as OpenAPI 3.1",
                "application/json",
                Object::with_type(Type::Object),
            ),
        );
        for (path, content_type, what) in STATIC {
            doc.paths.add_path_operation(
                *path,
                vec![HttpMethod::Get],
                public_get("page", what, content_type, Object::with_type(Type::String)),
            );
        }
    }
}

/// Every operation of a path item.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// An error response (4xx, 5xx) gets the standard description if it has
/// none, and the `{"error"}` JSON body if it states no content.
fn complete_error(status: &str, response: &mut Response, error_schema: &str) {
    if !(status.starts_with('4') || status.starts_with('5')) {
        return;
    }
    if response.description.is_empty() {
        response.description = describe(status).to_string();
    }
    if response.content.is_empty() {
        response.content.insert(
            "application/json".into(),
            RefOr::T(Content::new(Some(RefOr::Ref(
                utoipa::openapi::Ref::from_schema_name(error_schema),
            )))),
        );
    }
}

/// The standard description of an error status.
fn describe(status: &str) -> &'static str {
    match status {
        "400" => {
            "The request is invalid (a field, the body or the query string); the message names what and the fix."
        }
        "401" => {
            "Not signed in: send `Authorization: Bearer <token>` with a configured token, or the session cookie from POST /api/login."
        }
        "403" => "The caller's role may not do this; the message says who may.",
        "404" => "No such resource on this server.",
        "409" => "The resource's state does not allow this now; the message says what to do first.",
        "413" => "The request body is larger than the server accepts.",
        "415" => "The request body is not sent as `Content-Type: application/json`.",
        "500" => "The server or its state store failed; the message says what.",
        _ => "An error; the message says what and what to do.",
    }
}

fn public_get(tag: &str, what: &str, content_type: &str, schema: Object) -> Operation {
    let response = ResponseBuilder::new()
        .description(what)
        .content(content_type, Content::new(Some(schema)))
        .build();
    OperationBuilder::new()
        .tag(tag)
        .summary(Some(what))
        .response("200", response)
        .securities(Some(Vec::new()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> serde_json::Value {
        serde_json::to_value(crate::serve::openapi()).unwrap()
    }

    #[test]
    fn every_response_has_a_description_and_errors_are_json() {
        let doc = doc();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, r) in op["responses"].as_object().unwrap() {
                    let at = format!("{method} {path} {status}");
                    assert!(
                        r["description"].as_str().is_some_and(|d| !d.is_empty()),
                        "{at}: no description"
                    );
                    if status.starts_with(['4', '5']) {
                        assert_eq!(
                            r["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ErrorBody",
                            "{at}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn public_routes_need_no_credentials_and_the_rest_answer_401() {
        let doc = doc();
        let mut public = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if op["security"] == serde_json::json!([]) {
                    public.push(path.as_str());
                } else {
                    assert!(
                        op["responses"]["401"].is_object(),
                        "{method} {path}: needs credentials but documents no 401"
                    );
                    assert!(op["security"].is_null(), "{method} {path}");
                }
                if op["requestBody"].is_object() {
                    for s in ["400", "413", "415"] {
                        assert!(op["responses"][s].is_object(), "{method} {path}: {s}");
                    }
                }
            }
        }
        public.sort();
        let mut expected = PUBLIC.to_vec();
        expected.sort();
        assert_eq!(public, expected);
    }
}
