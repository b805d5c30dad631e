//! Disputes in the back office: administrators list them, open one (with the evidence
//! sent), and answer an open one with evidence before its deadline. With the built-in mock
//! gateway they can also play the customer's bank: raise a dispute on a payment and decide
//! it, each delivered to Marquee as the signed webhook a real gateway would send.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    http::{
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath, ApiQuery},
    },
    identity::extract::Admin,
    payment::{
        PaymentError,
        disputes::{self, DisputeQuery, DisputeView, EvidenceRequest},
        mock::MockDisputeError,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_disputes))
        .routes(routes!(get_dispute))
        .routes(routes!(submit_evidence))
        .routes(routes!(raise_mock_dispute))
        .routes(routes!(decide_mock_dispute))
}

/// Disputes (chargebacks), newest first, at most 200 (administrators).
#[utoipa::path(get, path = "/api/v1/admin/disputes", tag = "admin",
    security(("bearer" = [])),
    params(DisputeQuery),
    responses((status = 200, body = Vec<DisputeView>),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn list_disputes(
    State(app): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<DisputeQuery>,
) -> Result<Json<Vec<DisputeView>>, ApiError> {
    Ok(Json(disputes::list(&app, &query).await?))
}

/// One dispute with the evidence sent (administrators).
#[utoipa::path(get, path = "/api/v1/admin/disputes/{dispute_id}", tag = "admin",
    security(("bearer" = [])),
    params(("dispute_id" = String, Path)),
    responses((status = 200, body = DisputeView),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_dispute(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(dispute_id): ApiPath<String>,
) -> Result<Json<DisputeView>, ApiError> {
    Ok(Json(disputes::get(&app, &dispute_id).await?.view(true)))
}

/// Answer an open dispute with evidence (administrators): a note, and by default the
/// booking's timeline and its ticket's scans at the door. Sent to the gateway and kept;
/// the dispute becomes `evidence_submitted` and the bank decides. 409 `dispute-not-open`
/// once answered or decided, 409 `evidence-deadline-passed` after `evidence_due_by`.
#[utoipa::path(post, path = "/api/v1/admin/disputes/{dispute_id}/evidence", tag = "admin",
    security(("bearer" = [])),
    params(("dispute_id" = String, Path)),
    request_body = EvidenceRequest,
    responses((status = 200, body = DisputeView),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn submit_evidence(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(dispute_id): ApiPath<String>,
    ApiJson(request): ApiJson<EvidenceRequest>,
) -> Result<Json<DisputeView>, ApiError> {
    let view =
        disputes::submit_evidence(&app, admin.user_id.as_str(), &dispute_id, &request).await?;
    Ok(Json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RaiseDispute {
    /// The payment (`pay_…`) the customer's bank disputes.
    pub payment_id: String,
    /// The card network's reason, e.g. `fraudulent` or `product_not_received`.
    pub reason: String,
}

/// The mock gateway's dispute.
#[derive(Debug, Serialize, ToSchema)]
pub struct MockDisputeRaised {
    /// The gateway's id of the dispute (`dp_…`).
    pub gateway_dispute_id: String,
    /// `needs_response` or, once decided, `won` / `lost`.
    pub status: String,
}

fn mock_problem(error: MockDisputeError) -> ApiError {
    match error {
        MockDisputeError::Unavailable(m) => PaymentError::GatewayUnavailable(m).into(),
        MockDisputeError::UnknownDispute(_) => {
            PaymentError::DisputeNotFound(error.to_string()).into()
        }
        MockDisputeError::Decided(_) => PaymentError::DisputeNotOpen("decided".into()).into(),
        other => PaymentError::InvalidDispute(other.to_string()).into(),
    }
}

fn mock(app: &AppState) -> Result<&std::sync::Arc<crate::payment::mock::MockGateway>, ApiError> {
    app.mock_gateway.as_ref().ok_or_else(|| {
        PaymentError::InvalidDispute("the gateway is not the built-in mock".into()).into()
    })
}

/// Simulate the customer's bank disputing a payment (administrators, built-in mock
/// gateway only): the mock records the dispute (what is left of the charge after refunds,
/// evidence due in 7 days) and delivers `charge.dispute.created` as a signed webhook, from
/// which Marquee records it (`GET /api/v1/admin/disputes`).
#[utoipa::path(post, path = "/api/v1/admin/mock-gateway/disputes", tag = "admin",
    security(("bearer" = [])),
    request_body = RaiseDispute,
    responses((status = 201, body = MockDisputeRaised),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn raise_mock_dispute(
    State(app): State<AppState>,
    _admin: Admin,
    ApiJson(request): ApiJson<RaiseDispute>,
) -> Result<(StatusCode, Json<MockDisputeRaised>), ApiError> {
    let reason = request.reason.trim();
    if reason.is_empty() || reason.len() > 100 {
        return Err(
            PaymentError::InvalidDispute("reason must be 1 to 100 characters".into()).into(),
        );
    }
    let id = mock(&app)?
        .raise_dispute(&request.payment_id, reason)
        .await
        .map_err(mock_problem)?;
    Ok((
        StatusCode::CREATED,
        Json(MockDisputeRaised {
            gateway_dispute_id: id,
            status: "needs_response".into(),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideDispute {
    /// `won` (for the merchant) or `lost`.
    pub outcome: String,
}

/// Simulate the bank deciding a dispute (administrators, built-in mock gateway only): the
/// mock delivers `charge.dispute.closed` as a signed webhook.
#[utoipa::path(post, path = "/api/v1/admin/mock-gateway/disputes/{gateway_dispute_id}/decision",
    tag = "admin",
    security(("bearer" = [])),
    params(("gateway_dispute_id" = String, Path)),
    request_body = DecideDispute,
    responses((status = 200, body = MockDisputeRaised),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn decide_mock_dispute(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(gateway_dispute_id): ApiPath<String>,
    ApiJson(request): ApiJson<DecideDispute>,
) -> Result<Json<MockDisputeRaised>, ApiError> {
    let won = match request.outcome.as_str() {
        "won" => true,
        "lost" => false,
        other => {
            return Err(PaymentError::InvalidDispute(format!(
                "outcome must be won or lost, not {other:?}"
            ))
            .into());
        }
    };
    mock(&app)?
        .decide_dispute(&gateway_dispute_id, won)
        .await
        .map_err(mock_problem)?;
    Ok(Json(MockDisputeRaised {
        gateway_dispute_id,
        status: request.outcome,
    }))
}
