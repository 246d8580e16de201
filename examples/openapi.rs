//! `GET /openapi.json` of the demos: the demo's own routes, described here with utoipa, merged
//! with the library's document of the `/phone/*` endpoints — what an app using the library
//! does. Both demos serve the same document, since they serve the same surface.
//!
//! | route | described as |
//! |---|---|
//! | `GET /` | 200 `text/html` |
//! | `GET /health` | 200 `{"ok":true}` |
//! | `GET /protected` | guarded ([`openapi::guarded`]): 200 [`Protected`], 401, 503 |
//! | `GET /protected/recent` | the same, verified within [`RECENT`] |
//! | `GET /openapi.json` | 200, this document |
//! | `GET /metrics` | 200 Prometheus text (only in the document of an app that serves it: [`json_with_metrics`]) |
//! | `/phone/*` | the library's document ([`TwoFactor::openapi`](twofactor_tower::TwoFactor::openapi)) |

use twofactor_tower::openapi;
use utoipa::ToSchema;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ComponentsBuilder, ObjectBuilder, Type};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, PathItem, Paths, Ref, Tag};

use crate::{Protected, RECENT};

/// The demo's tag.
const TAG: &str = "demo";

/// The demo's whole document: its own routes merged with `phone`, the library's document of
/// the endpoints under `/phone`.
pub fn document(phone: OpenApi) -> OpenApi {
    let mut doc = own_routes();
    doc.merge(phone);
    doc
}

/// The document as served: JSON.
pub fn json(phone: OpenApi) -> String {
    // Serializing the document's plain maps and strings cannot fail.
    document(phone).to_json().unwrap_or_default()
}

/// [`document`], plus `GET /metrics` (for an app that serves it).
pub fn document_with_metrics(phone: OpenApi) -> OpenApi {
    let mut doc = document(phone);
    doc.paths.add_path_operation(
        "/metrics",
        vec![HttpMethod::Get],
        OperationBuilder::new()
            .tag(TAG)
            .operation_id(Some("demo_metrics"))
            .summary(Some(
                "Prometheus metrics (the library's twofactor_* series)",
            ))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("The Prometheus text exposition format.")
                    .content(
                        crate::METRICS_CONTENT_TYPE,
                        ContentBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                            .build(),
                    ),
            ),
    );
    doc
}

/// The document as served, with `GET /metrics` when `metrics` says the app serves it.
pub fn json_with_metrics(phone: OpenApi, metrics: bool) -> String {
    let doc = if metrics {
        document_with_metrics(phone)
    } else {
        document(phone)
    };
    doc.to_json().unwrap_or_default()
}

fn own_routes() -> OpenApi {
    let protected = |summary: &str, id: &str| {
        openapi::guarded(
            OperationBuilder::new()
                .tag(TAG)
                .operation_id(Some(id))
                .summary(Some(summary))
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("The verified phone.")
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name(Protected::name())))
                                .build(),
                        ),
                ),
        )
    };
    let paths = Paths::builder()
        .path(
            "/",
            PathItem::new(
                HttpMethod::Get,
                OperationBuilder::new()
                    .tag(TAG)
                    .operation_id(Some("demo_page"))
                    .summary(Some("A page to try the flow in a browser"))
                    .response(
                        "200",
                        ResponseBuilder::new().description("The page.").content(
                            "text/html",
                            ContentBuilder::new()
                                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                                .build(),
                        ),
                    ),
            ),
        )
        .path(
            "/health",
            PathItem::new(
                HttpMethod::Get,
                OperationBuilder::new()
                    .tag(TAG)
                    .operation_id(Some("demo_health"))
                    .summary(Some("Liveness, unguarded"))
                    .response(
                        "200",
                        ResponseBuilder::new().description("Up.").content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(
                                    ObjectBuilder::new()
                                        .property(
                                            "ok",
                                            ObjectBuilder::new()
                                                .schema_type(Type::Boolean)
                                                .enum_values(Some([true])),
                                        )
                                        .required("ok"),
                                ))
                                .build(),
                        ),
                    ),
            ),
        )
        .path(
            "/protected",
            PathItem::new(
                HttpMethod::Get,
                protected("A route behind the guard", "demo_protected"),
            ),
        )
        .path(
            "/protected/recent",
            PathItem::new(
                HttpMethod::Get,
                protected(
                    &format!(
                        "A route behind the guard, for a phone verified in the last {} s",
                        RECENT.as_secs()
                    ),
                    "demo_protected_recent",
                ),
            ),
        )
        .path(
            "/openapi.json",
            PathItem::new(
                HttpMethod::Get,
                OperationBuilder::new()
                    .tag(TAG)
                    .operation_id(Some("demo_openapi"))
                    .summary(Some("This document"))
                    .response(
                        "200",
                        ResponseBuilder::new().description("OpenAPI 3.1.").content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(
                                    ObjectBuilder::new()
                                        .schema_type(Type::Object)
                                        .required("openapi")
                                        .additional_properties(Some(
                                            AdditionalProperties::FreeForm(true),
                                        )),
                                ))
                                .build(),
                        ),
                    ),
            ),
        );
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("twofactor-rs demo")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The demo app: its own routes, and the phone verification endpoints under \
                     /phone.",
                )),
        )
        .paths(paths)
        .tags(Some([Tag::new(TAG)]))
        .components(Some(
            ComponentsBuilder::new().schema_from::<Protected>().build(),
        ))
        .build()
}
