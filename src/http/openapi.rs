//! The OpenAPI document: the base (title, tags, security scheme) and the error responses
//! every operation shares. Handlers document what is theirs (success bodies, domain
//! errors, 304 for cached reads); what the edge can answer to any request is added here
//! once, so no operation can forget a status the service may return.

use utoipa::{
    OpenApi,
    openapi::{
        self, ContentBuilder, PathItem, Ref, RefOr, ResponseBuilder,
        path::{Operation, ParameterIn},
        security::SecurityRequirement,
    },
};

use super::error::Problem;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Marquee",
        description = "Movie-ticket booking platform API. Errors are RFC 9457 problem+json \
            with a stable `type`; money is integer minor units with an ISO 4217 currency; \
            times are UTC with local equivalents in the theatre's timezone.",
    ),
    tags(
        (name = "catalog", description = "Browse cities, movies, theatres and shows"),
        (name = "inventory", description = "Seat maps"),
        (name = "identity", description = "Accounts, sign-in and tokens"),
        (name = "partner", description = "Theatre partners: onboarding, theatres, screens, shows, seat inventory (bearer token of a partner account)"),
        (name = "offers", description = "Offers and price quotes"),
        (name = "pricing", description = "Dynamic pricing: price rules of partners and of the platform (day of week, holidays, time band, format, demand) and holiday calendars"),
        (name = "admin", description = "Platform administration (bearer token of an administrator)"),
        (name = "integration", description = "Theatres' own systems: inbound sync by their ids, box-office sales, webhook endpoints and the delivery log (API key or partner token)"),
        (name = "settlement", description = "Paying partners: statements (JSON and CSV), commission, settlement runs, reconciliation with the gateway, financial reports"),
        (name = "waiting-room", description = "Queues in front of on-sales: a pre-queue shuffled by a committed seed, admission in order with tokens that holds need"),
        (name = "operations", description = "Health, readiness, metrics"),
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme that authenticated operations list under `security`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Access token from POST /api/v1/auth/login"))
                    .build(),
            ),
        );
    }
}

/// Which operations can get a shared error response.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Applies {
    /// Any request: the edge answers these before or around every handler.
    Always,
    /// Operations with a required bearer token.
    Secured,
    /// Operations with path parameters (an unknown or malformed id).
    PathIds,
}

/// (status, component name, description, to which operations it applies).
const SHARED: [(&str, &str, &str, Applies); 8] = [
    (
        "400",
        "InvalidRequest",
        "Invalid input: a malformed path, query string or body (`invalid-path`, \
         `invalid-query`, `invalid-body`, …), or U+0000 in any of them (`invalid-request`, \
         `invalid-body`)",
        Applies::Always,
    ),
    (
        "401",
        "Unauthenticated",
        "Missing, malformed, expired or foreign access token (`unauthenticated`, \
         `token-expired`)",
        Applies::Secured,
    ),
    (
        "403",
        "Forbidden",
        "Signed in, but not allowed: wrong role, a disabled account, an API key outside \
         partner routes, an organisation awaiting approval",
        Applies::Secured,
    ),
    (
        "404",
        "NotFound",
        "No such resource, or one that is not yours (`not-found`)",
        Applies::PathIds,
    ),
    (
        "408",
        "Timeout",
        "The request took longer than `http.request_timeout_ms` (`timeout`)",
        Applies::Always,
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is over `http.body_limit_bytes`, sized or chunked (`payload-too-large`)",
        Applies::Always,
    ),
    (
        "500",
        "Internal",
        "Unexpected failure, logged with the request id; the body says nothing more \
         (`internal`)",
        Applies::Always,
    ),
    (
        "503",
        "Unavailable",
        "The database cannot be reached (`unavailable`), or the server is at its connection \
         limit (`overloaded`); retry shortly",
        Applies::Always,
    ),
];

/// Adds the shared error responses to every operation that can get them (keeping an
/// operation's own description where it has one), and gives every error response the
/// problem+json body the service sends.
pub fn complete(doc: &mut openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    for (_, name, description, _) in SHARED {
        components
            .responses
            .insert(name.to_owned(), RefOr::T(problem_response(description)));
    }
    for item in doc.paths.paths.values_mut() {
        let path_ids = has_path_parameters(item.parameters.as_deref());
        for operation in operations(item) {
            let secured = operation
                .security
                .as_ref()
                .is_some_and(|all| all.iter().any(|r| *r != SecurityRequirement::default()));
            let path_ids = path_ids || has_path_parameters(operation.parameters.as_deref());
            for (status, name, _, applies) in SHARED {
                let wanted = match applies {
                    Applies::Always => true,
                    Applies::Secured => secured,
                    Applies::PathIds => path_ids,
                };
                if wanted {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                }
            }
            for (status, response) in operation.responses.responses.iter_mut() {
                if let RefOr::T(response) = response
                    && status.parse::<u16>().is_ok_and(|status| status >= 400)
                {
                    as_problem(response);
                }
            }
        }
    }
}

fn problem_response(description: &str) -> openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, problem_content())
        .build()
}

fn problem_content() -> openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build()
}

/// An error response's body is problem+json: one documented as `application/json` (or
/// not at all) is corrected to what the service sends.
fn as_problem(response: &mut openapi::Response) {
    let content = response
        .content
        .shift_remove("application/json")
        .unwrap_or_else(|| RefOr::T(problem_content()));
    response
        .content
        .retain(|media_type, _| media_type == PROBLEM_JSON);
    response
        .content
        .entry(PROBLEM_JSON.to_owned())
        .or_insert(content);
}

fn has_path_parameters(parameters: Option<&[RefOr<openapi::path::Parameter>]>) -> bool {
    parameters.unwrap_or_default().iter().any(
        |parameter| matches!(parameter, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Path)),
    )
}

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
