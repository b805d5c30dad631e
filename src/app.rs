//! Building and running the service. `App::build` does everything `marquee serve` does up
//! to accepting connections (connect, migrate, bind), so tests start exactly the code
//! production starts, on port 0.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use tokio::net::TcpListener;

use crate::{
    clock::{SharedClock, SystemClock},
    config::Config,
    db::Db,
    http::{self, cache::ResponseCache},
    identity::{self, rate_limit::LoginLimiter, tokens::TokenSigner},
    payment::{gateway::PaymentGateway, mock::MockGateway},
};

/// What every handler can reach; one `Arc`, so extracting it per request is one atomic add.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

pub struct AppParts {
    pub db: Db,
    pub cache: Arc<ResponseCache>,
    pub clock: SharedClock,
    pub config: Config,
    pub tokens: TokenSigner,
    pub login_limiter: LoginLimiter,
    /// Holds, payments, registrations and quotes per account, booking or address.
    pub limits: crate::limits::RateLimits,
    pub gateway: Arc<dyn PaymentGateway>,
    /// The built-in mock gateway, when it is the gateway: administrators may ask it to
    /// simulate a customer's bank (a dispute raised and decided).
    pub mock_gateway: Option<Arc<MockGateway>>,
    /// Signs ticket codes; derived from the shared signing secret, so every node agrees.
    /// Signs and verifies ticket codes (rotating keys; `booking::tickets`).
    pub tickets: crate::booking::tickets::TicketKeys,
    /// Verifies the mock gateway's webhooks (and signs them, for the built-in mock).
    pub webhook_secret: Vec<u8>,
    /// Offers for quotes, read once and shared.
    pub offer_book: crate::offers::book::OfferBook,
    /// Price rules and holiday calendars for quotes, read once and shared.
    pub price_rules: crate::pricing::book::RuleBook,
    /// Shows' occupancy for demand price rules, reused briefly.
    pub occupancy: crate::pricing::book::OccupancyBook,
    /// Show rows, prices and seat categories for pricing holds.
    pub show_facts: crate::inventory::facts::ShowFactsCache,
    /// Customers waiting for their booking to change.
    pub booking_watch: crate::booking::watch::BookingWatch,
    /// Shows whose holds just collided: their holds check seats on the read path first.
    pub hold_contention: crate::booking::contention::HoldContention,
    /// Seats this node's best-available holds are claiming now.
    pub seats_in_flight: Arc<crate::inventory::in_flight::SeatsInFlight>,
    /// Accounts recently checked active.
    pub active_accounts: crate::identity::active::ActiveAccounts,
    /// Open live seat maps, fed by this node's outbox tail.
    pub seat_streams: Arc<crate::inventory::stream::SeatStreams>,
    /// Signs waiting-room admissions; derived from the shared signing secret.
    pub admission_key: Vec<u8>,
    /// Which shows have a waiting room, and how long their holds take on this node.
    pub waiting_rooms: crate::waiting_room::WaitingRooms,
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        // A unit of work receives its connection and plain inputs, never the application:
        // whatever it would reach through it (a pool, a cache loader, the network) it must
        // not. Debug builds (every test) fail at once when one tries.
        debug_assert!(
            !crate::db::in_unit(),
            "a unit of work reached the application state"
        );
        &self.0
    }
}

impl AppState {
    pub fn new(
        config: Config,
        db: Db,
        clock: SharedClock,
        tokens: TokenSigner,
        secrets: DerivedSecrets,
        webhook_url: String,
    ) -> Self {
        let cache = Arc::new(ResponseCache::new(&config.cache, clock.clone()));
        // Limits shared by every node through Redis, when configured (checked in
        // `Config::validate`); otherwise each node counts alone.
        let shared = config.redis_url.as_deref().and_then(|url| {
            crate::limits::SharedBuckets::connect(url, &config.limits.redis_prefix)
                .inspect_err(
                    |error| tracing::error!(%error, "redis_url is not usable; limits are per node"),
                )
                .ok()
        });
        let limits = crate::limits::RateLimits::with_shared(&config.limits, shared.clone());
        let login_limiter = LoginLimiter::with_shared(
            config.auth.login_attempts_per_account_per_minute,
            config.auth.login_attempts_per_client_per_minute,
            shared,
        );
        let mock = MockGateway::new(
            secrets.webhook.clone(),
            webhook_url,
            Duration::from_millis(config.payment.mock_delay_ms),
            config.payment.webhook_tolerance_secs,
            clock.clone(),
            db.clone(),
        );
        let gateway: Arc<dyn PaymentGateway> = Arc::new(mock.clone());
        Self(Arc::new(AppParts {
            db,
            cache,
            clock,
            config,
            tokens,
            login_limiter,
            limits,
            gateway,
            mock_gateway: Some(mock),
            tickets: crate::booking::tickets::TicketKeys::new(secrets.tickets),
            admission_key: secrets.admission,
            webhook_secret: secrets.webhook,
            offer_book: Default::default(),
            price_rules: Default::default(),
            occupancy: Default::default(),
            active_accounts: Default::default(),
            booking_watch: Default::default(),
            hold_contention: Default::default(),
            seats_in_flight: Default::default(),
            show_facts: Default::default(),
            seat_streams: Default::default(),
            waiting_rooms: Default::default(),
        }))
    }

    /// Pool sizes and limits as gauges, refreshed when metrics are scraped (the
    /// PostgreSQL read pool; SQLite reads on each thread's own connection and has no pool,
    /// so its gauges stay at 0). Saturation is open / max, and connections / their cap.
    pub fn record_pool_gauges(&self) {
        metrics::gauge!("marquee_http_max_connections")
            .set(self.config.http.max_connections as f64);
        if let Db::Postgres(db) = &self.db {
            metrics::gauge!("marquee_db_connections", "state" => "open")
                .set(f64::from(db.pool.size()));
            metrics::gauge!("marquee_db_connections", "state" => "idle")
                .set(db.pool.num_idle() as f64);
            metrics::gauge!("marquee_db_pool_max_connections")
                .set(f64::from(db.pool.options().get_max_connections()));
        }
    }
}

/// Keys derived from the platform's signing secret, one per purpose.
pub struct DerivedSecrets {
    pub tickets: Vec<u8>,
    pub admission: Vec<u8>,
    pub webhook: Vec<u8>,
}

impl DerivedSecrets {
    pub fn derive(secret: &[u8], config: &Config) -> Self {
        let derive = |purpose: &str| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
            mac.update(purpose.as_bytes());
            mac.finalize().into_bytes().to_vec()
        };
        Self {
            tickets: derive("marquee/ticket-codes/v1"),
            admission: derive("marquee/waiting-room-admissions/v1"),
            webhook: match &config.payment.webhook_secret {
                Some(secret) => secret.expose().as_bytes().to_vec(),
                None => derive("marquee/mock-gateway-webhooks/v1"),
            },
        }
    }
}

pub struct App {
    listener: TcpListener,
    router: http::Service,
    state: AppState,
    addr: SocketAddr,
    /// Set when the server terminates TLS itself (`http.tls_cert_path`).
    tls: Option<tokio_rustls::TlsAcceptor>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot serve TLS: {0}")]
    Tls(String),
}

impl App {
    /// Connects to the configured database, migrates it and binds the listener.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let db = Db::connect(&config).await.map_err(StartError::Connect)?;
        db.migrate().await?;
        Self::build_with(config, db, Arc::new(SystemClock)).await
    }

    /// Like `build`, on an already migrated database and with a given clock.
    pub async fn build_with(
        config: Config,
        db: Db,
        clock: SharedClock,
    ) -> Result<Self, StartError> {
        let tls = http::server::tls_acceptor(&config.http).map_err(StartError::Tls)?;
        let addr = config.addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        // Install the metrics recorder before the first request is counted.
        http::metrics::handle();
        let secret = match &config.auth.jwt_secret {
            Some(secret) => secret.expose().to_owned(),
            None => identity::store::signing_secret(&db, clock.now())
                .await
                .map_err(StartError::Connect)?,
        };
        let tokens = TokenSigner::new(secret.as_bytes(), config.auth.access_token_ttl_secs as i64);
        // Keys rotated since (`POST /api/v1/admin/signing-keys/rotate`).
        tokens.adopt(
            &identity::store::token_keys(&db)
                .await
                .map_err(StartError::Connect)?,
        );
        let secrets = DerivedSecrets::derive(secret.as_bytes(), &config);
        let webhook_url = config
            .payment
            .mock_webhook_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}/api/v1/payments/webhooks/mock"));
        let state = AppState::new(config, db, clock, tokens, secrets, webhook_url);
        // Ticket-code keys rotated since (`POST /api/v1/admin/ticket-keys/rotate`).
        state.tickets.adopt(
            &identity::store::ticket_keys(&state.db)
                .await
                .map_err(StartError::Connect)?,
        );
        let (router, _openapi) = http::router(state.clone());
        Ok(Self {
            listener,
            router,
            state,
            addr,
            tls,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish (bounded by the
    /// configured grace period) and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let grace = http::shutdown_grace(&self.state);
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let limits = http::server::Limits::from_config(&self.state.config.http);
        let streams = self.state.seat_streams.clone();
        let tls = self.tls.is_some();
        let server =
            http::server::serve(self.listener, self.router, limits, self.tls, async move {
                shutdown.await;
                // Live seat maps never finish by themselves: end them so the rest can.
                streams.stop();
                let _ = stopping_tx.send(());
            });
        tracing::info!(addr = %self.addr, tls, database = self.state.db.engine().name(), "serving");
        let server = tokio::spawn(server);
        let sweep_every = self.state.config.booking.sweep_interval_ms;
        let sweeper = (sweep_every > 0).then(|| {
            tokio::spawn(crate::booking::sweeper::run(
                self.state.clone(),
                Duration::from_millis(sweep_every),
            ))
        });
        // The hold-expiry reminders, on the sweeper's period.
        let reminders = (sweep_every > 0 && self.state.config.booking.hold_reminder_lead_secs > 0)
            .then(|| {
                tokio::spawn(crate::booking::reminders::run(
                    self.state.clone(),
                    Duration::from_millis(sweep_every),
                ))
            });
        let events = crate::integration::start(&self.state);
        let gateway = tokio::spawn(self.state.gateway.clone().run_background());
        let result = tokio::select! {
            joined = server => joined.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            () = async {
                let _ = stopping_rx.await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(grace_secs = grace.as_secs(), "in-flight requests did not finish in time");
                Ok(())
            }
        };
        if let Some(sweeper) = sweeper {
            sweeper.abort();
        }
        if let Some(reminders) = reminders {
            reminders.abort();
        }
        gateway.abort();
        self.state.gateway.flush().await;
        events.stop().await;
        self.state.db.close().await;
        tracing::info!("stopped");
        result
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
