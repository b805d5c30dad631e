//! A partner webhook endpoint that answers slowly, attached for the booking bench
//! (`--webhook-delay-ms`): the demo partner subscribes it to the booking events, so every
//! confirmed booking owes it a delivery. Bookings must not feel it (deliveries go out on
//! their own task, after the booking has committed and answered); comparing a run with it
//! and one without shows that they do not.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::{anyhow, bail};
use axum::{Router, routing::post};
use serde_json::{Value, json};

use super::{Connection, Target};
use crate::seed::DEMO_PASSWORD;

/// The receiver, counting what it got.
pub(super) struct SlowEndpoint {
    received: Arc<AtomicU64>,
}

impl SlowEndpoint {
    pub(super) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

/// Signs the demo partner (owner of every demo theatre) in; its access token.
pub(super) async fn demo_partner_token(
    connection: &mut Connection,
    target: &Target,
) -> anyhow::Result<String> {
    let credentials = json!({"email": "partner@demo.test", "password": DEMO_PASSWORD});
    let (status, _, body) = connection
        .post_json(target, "/api/v1/auth/login", &credentials)
        .await?;
    if !status.is_success() {
        bail!("the demo partner could not sign in ({status}); is the demo data loaded?");
    }
    let token: Value = serde_json::from_slice(&body)?;
    token["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("login answered no access_token"))
}

/// Starts a receiver on loopback that answers 200 after `delay`, and registers it for the
/// demo partner (the server must allow private targets:
/// `MARQUEE_WEBHOOKS__ALLOW_PRIVATE_TARGETS=true`).
pub(super) async fn attach(target: &Target, delay: Duration) -> anyhow::Result<SlowEndpoint> {
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let router = Router::new().route(
        "/hooks",
        post(move || {
            let counter = counter.clone();
            async move {
                tokio::time::sleep(delay).await;
                counter.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let mut connection = Connection::open(target).await?;
    let token = demo_partner_token(&mut connection, target).await?;
    let token = token.as_str();
    let endpoint = json!({
        "url": url,
        "event_types": ["booking.confirmed", "booking.cancelled", "payment.refunded"],
    });
    let (status, body) = connection
        .call(
            target,
            "/api/v1/partner/webhook-endpoints",
            token,
            None,
            Some(&endpoint),
        )
        .await?;
    if !status.is_success() {
        bail!(
            "registering the slow endpoint answered {status}: {} (start the server with \
             MARQUEE_WEBHOOKS__ALLOW_PRIVATE_TARGETS=true)",
            String::from_utf8_lossy(&body)
        );
    }
    println!(
        "slow webhook endpoint {url} attached for the demo partner: each delivery takes {} ms",
        delay.as_millis()
    );
    Ok(SlowEndpoint { received })
}
