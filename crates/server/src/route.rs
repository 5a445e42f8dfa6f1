//! A route is declared once: a permission and a handler. The handler's
//! `#[utoipa::path]` already names its method, path and OpenAPI operation, so the
//! router, the permission each route enforces and the OpenAPI document are all built
//! from the one declaration (the table in [`crate::routes`]). There is no way to add a
//! route without a permission: [`Route`] cannot be made without one.

use crate::auth::Permission;
use crate::state::AppState;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::PathItem;

/// One declared route.
pub struct Route<S> {
    pub permission: Permission,
    pub method: Method,
    pub path: String,
    /// This route's part of the OpenAPI document (`None`: not documented, like the
    /// document itself).
    pub doc: Option<OpenApi>,
    /// Takes the larger body limit (eval runs carry whole reports).
    pub large_body: bool,
    /// A route of the Langfuse-compatible API: Basic credentials (an API key's prefix
    /// and the key), the key's project instead of one in the path, Langfuse-shaped
    /// errors.
    pub langfuse: bool,
    pub handler: MethodRouter<AppState<S>>,
}

impl<S: Send + Sync + 'static> Route<S> {
    /// A route documented by its handler's `#[utoipa::path]` (`doc` holds that one path).
    pub fn documented(
        permission: Permission,
        doc: OpenApi,
        handler: impl FnOnce(MethodFilter) -> MethodRouter<AppState<S>>,
    ) -> Route<S> {
        let (path, method, filter) = doc
            .paths
            .paths
            .iter()
            .find_map(|(path, item)| operation_of(item).map(|(m, f)| (path.clone(), m, f)))
            .unwrap_or_else(|| {
                // A declaration error, not input: every test builds the router first.
                panic!("a declared route's #[utoipa::path] documents no operation")
            });
        Route {
            permission,
            method,
            path,
            doc: Some(doc),
            large_body: false,
            langfuse: false,
            handler: handler(filter),
        }
    }

    /// A route kept out of the OpenAPI document.
    pub fn undocumented(
        permission: Permission,
        method: Method,
        path: &str,
        handler: MethodRouter<AppState<S>>,
    ) -> Route<S> {
        Route {
            permission,
            method,
            path: path.to_owned(),
            doc: None,
            large_body: false,
            langfuse: false,
            handler,
        }
    }

    /// Lets the route take the larger body limit.
    pub fn large_body(mut self) -> Route<S> {
        self.large_body = true;
        self
    }

    /// Makes the route one of the Langfuse-compatible API's (the `langfuse` field says what
    /// that changes).
    pub fn langfuse(mut self) -> Route<S> {
        self.langfuse = true;
        self
    }
}

/// The one operation a single-handler path item has.
fn operation_of(item: &PathItem) -> Option<(Method, MethodFilter)> {
    let candidates = [
        (&item.get, Method::GET, MethodFilter::GET),
        (&item.post, Method::POST, MethodFilter::POST),
        (&item.put, Method::PUT, MethodFilter::PUT),
        (&item.delete, Method::DELETE, MethodFilter::DELETE),
        (&item.patch, Method::PATCH, MethodFilter::PATCH),
    ];
    candidates
        .into_iter()
        .find(|(op, _, _)| op.is_some())
        .map(|(_, method, filter)| (method, filter))
}

/// Declares the routes: `Permission => module::handler`, with `<S>` after handlers
/// generic over the store and `[large_body]` after the permission of a route that
/// takes the larger body limit, `[langfuse]` after that of a Langfuse-compatible route
/// (its permission is then checked in the API key's project). Expands to `fn documented<S: Store>() -> Vec<Route<S>>`.
macro_rules! declare_routes {
    ($( $perm:ident $([$flag:ident])? => $($handler:ident)::+ $(<$g:ident>)? ),* $(,)?) => {
        /// Every documented route, in the order the OpenAPI document lists them.
        pub fn documented<S: promptops_store::Store>() -> Vec<$crate::route::Route<S>> {
            vec![ $( {
                #[derive(utoipa::OpenApi)]
                #[openapi(paths($($handler)::+))]
                struct Doc;
                $crate::route::Route::documented(
                    $crate::auth::Permission::$perm,
                    <Doc as utoipa::OpenApi>::openapi(),
                    |filter| axum::routing::on(filter, $($handler)::+ $(::<$g>)?),
                )$(.$flag())?
            } ),* ]
        }
    };
}
pub(crate) use declare_routes;
