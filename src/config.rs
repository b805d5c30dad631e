//! Configuration: built-in defaults, then an optional TOML file, then `MARQUEE_*`
//! environment variables (`__` separates nested keys, e.g. `MARQUEE_CACHE__ENABLED=false`).
//! Validated once at start so a bad value stops the process before it serves anything.

use std::{net::SocketAddr, path::Path, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `sqlite://path/to/file.db` (embedded default) or `postgres://…` (scale-out).
    pub database_url: String,
    /// Address `serve` listens on. Port 0 picks a free port (tests do this).
    pub addr: SocketAddr,
    /// NATS server for the event relay; unset means in-process events only.
    pub nats_url: Option<String>,
    /// Redis for rate limits shared by every node (`redis://127.0.0.1:6379`); unset means
    /// each node counts alone.
    pub redis_url: Option<String>,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub cache: CacheConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub schedule: ScheduleConfig,
    pub pricing: PricingConfig,
    pub booking: BookingConfig,
    pub payment: PaymentConfig,
    pub events: EventsConfig,
    pub notify: NotifyConfig,
    pub limits: LimitsConfig,
    pub web: WebConfig,
    pub webhooks: WebhooksConfig,
    pub settlement: SettlementConfig,
    pub waiting_room: WaitingRoomConfig,
    pub privacy: PrivacyConfig,
}

/// Keeping personal data no longer than needed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Messages sent lose their address and subject after this many days (the retention
    /// job, `identity::privacy::purge_expired`); 0 keeps them.
    pub notification_retention_days: u32,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            notification_retention_days: 365,
        }
    }
}

/// Waiting rooms in front of on-sales.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WaitingRoomConfig {
    /// How often each node admits the next customers of selling rooms; 0: this node
    /// admits none (another does).
    pub tick_ms: u64,
    /// How long an admission lasts (its token's lifetime).
    pub admission_secs: u64,
    /// Buyers deciding at once when a room opens.
    pub initial_window: i64,
    /// The most buyers deciding at once.
    pub max_window: i64,
    /// The admission window halves while holds on the show take longer than this (p99,
    /// measured on the node) and grows by one a round while they do not. Unset: 100 ms on
    /// SQLite, 250 ms on PostgreSQL (whose every commit waits for a WAL flush).
    pub hold_p99_target_ms: Option<f64>,
    /// The slowest admission rate estimates assume, per second.
    pub min_rate_per_sec: f64,
}

impl WaitingRoomConfig {
    /// The hold p99 the admission window aims under on `engine`.
    pub fn hold_p99_target_ms(&self, engine: crate::db::Engine) -> f64 {
        self.hold_p99_target_ms.unwrap_or(match engine {
            crate::db::Engine::Sqlite => 100.0,
            crate::db::Engine::Postgres => 250.0,
        })
    }

    /// How long an admission lasts, in ms.
    pub fn admission_ms(&self) -> i64 {
        i64::try_from(self.admission_secs)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000)
    }
}

impl Default for WaitingRoomConfig {
    fn default() -> Self {
        Self {
            tick_ms: 200,
            admission_secs: 600,
            initial_window: 50,
            max_window: 500,
            hold_p99_target_ms: None,
            min_rate_per_sec: 1.0,
        }
    }
}

/// Paying partners: commission and the daily settlement runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SettlementConfig {
    /// Commission on ticket sales, in basis points, for an organisation with no rate of
    /// its own for the day.
    pub default_commission_bp: i64,
    /// How often each node looks for business days to settle (the runs are idempotent, so
    /// several nodes may); 0 leaves it to administrators.
    pub run_interval_ms: u64,
}

impl Default for SettlementConfig {
    fn default() -> Self {
        Self {
            default_commission_bp: 1_000,
            run_interval_ms: 300_000,
        }
    }
}

/// Partners' webhook endpoints and the deliveries to them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Accept `http://` and loopback or private addresses as endpoints: for local
    /// receivers in tests and development only (otherwise a partner could make Marquee
    /// call its own network).
    pub allow_private_targets: bool,
    /// How often each node looks for deliveries that are due; 0 sends none (another node
    /// or process does).
    pub poll_interval_ms: u64,
    /// How long one delivery may take (connect, send, the answer's head) before it counts
    /// as failed and is retried.
    pub timeout_ms: u64,
    /// Deliveries one node sends at once (never two of one endpoint's show at once).
    pub concurrency: usize,
    /// An endpoint whose deliveries have all failed for this long is disabled, and its
    /// organisation told.
    pub disable_after_failing_hours: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            poll_interval_ms: 500,
            timeout_ms: 10_000,
            concurrency: 16,
            disable_after_failing_hours: 72,
        }
    }
}

/// The customer web app (`web/`, embedded in the binary).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Serve the app's files from this directory instead of the embedded copies, read on
    /// each request (for working on the pages without rebuilding).
    pub assets_dir: Option<std::path::PathBuf>,
}

/// Per-minute rate limits (token buckets, bursts of the same size); see `crate::limits`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub holds_per_account_per_minute: u32,
    pub payments_per_booking_per_minute: u32,
    pub payments_per_account_per_minute: u32,
    pub registrations_per_client_per_minute: u32,
    pub quotes_per_client_per_minute: u32,
    /// Waitlist joins per account.
    pub waitlist_joins_per_account_per_minute: u32,
    /// Writes (creating, changing, cancelling) per partner organisation, API keys included.
    pub partner_writes_per_org_per_minute: u32,
    /// Reviews written or edited, and helpful votes, per account.
    pub review_writes_per_account_per_minute: u32,
    /// Tickets mailed again at the customer's request, per booking.
    pub ticket_emails_per_booking_per_minute: u32,
    /// Start of every shared bucket's key in Redis (deployments sharing one Redis keep
    /// apart by it).
    pub redis_prefix: String,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            holds_per_account_per_minute: 30,
            payments_per_booking_per_minute: 5,
            payments_per_account_per_minute: 20,
            registrations_per_client_per_minute: 10,
            quotes_per_client_per_minute: 120,
            waitlist_joins_per_account_per_minute: 20,
            partner_writes_per_org_per_minute: 1_200,
            review_writes_per_account_per_minute: 10,
            ticket_emails_per_booking_per_minute: 2,
            redis_prefix: "marquee".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BookingConfig {
    /// Seconds a hold keeps its seats before the booking expires.
    pub hold_secs: i64,
    /// Seats one booking may hold.
    pub max_seats: usize,
    /// Customers may cancel a confirmed booking until this long before the show.
    pub cancel_cutoff_minutes: i64,
    /// Seats in one bulk booking, all shows together.
    pub bulk_max_seats: usize,
    /// Shows in one bulk booking.
    pub bulk_max_items: usize,
    /// Bookings in one bulk cancellation.
    pub bulk_cancel_max: usize,
    /// Period of the expiry sweeper; 0 turns it off (holds still lapse on time: the claim
    /// treats expired holds as free).
    pub sweep_interval_ms: u64,
    /// Most write commands SQLite commits together in one transaction (group commit).
    pub group_commit_max_batch: usize,
    /// Seats one account may hold (unpaid, unexpired) in one show, and in all shows.
    pub max_held_seats_per_show: usize,
    pub max_held_seats_per_account: usize,
    /// Seconds before a hold lapses that its customer is reminded to pay (once, by the
    /// reminder timer beside the sweeper); 0 sends no reminders. Less than `hold_secs`.
    pub hold_reminder_lead_secs: i64,
}

impl Default for BookingConfig {
    fn default() -> Self {
        Self {
            hold_secs: 300,
            max_seats: 10,
            cancel_cutoff_minutes: 120,
            bulk_max_seats: 100,
            bulk_max_items: 20,
            bulk_cancel_max: 50,
            sweep_interval_ms: 1_000,
            group_commit_max_batch: 64,
            max_held_seats_per_show: 20,
            max_held_seats_per_account: 100,
            hold_reminder_lead_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentConfig {
    /// HMAC key of the gateway's webhooks; unset: derived from the token-signing secret,
    /// which every node shares.
    pub webhook_secret: Option<Secret>,
    /// Webhooks whose timestamp is further than this from now are refused (replays).
    pub webhook_tolerance_secs: i64,
    /// How late the mock gateway answers for `tok_delayed`.
    pub mock_delay_ms: u64,
    /// Where the mock gateway delivers webhooks; unset: this node's own address.
    pub mock_webhook_url: Option<String>,
    /// A payment still pending this long after it was made is settled by asking the
    /// gateway (its webhook is late or lost); the sweeper does it.
    pub reconcile_after_ms: u64,
}

impl Default for PaymentConfig {
    fn default() -> Self {
        Self {
            webhook_secret: None,
            webhook_tolerance_secs: 300,
            mock_delay_ms: 3_000,
            mock_webhook_url: None,
            reconcile_after_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// How often the in-process dispatcher looks for new events; 0 turns it off (events
    /// still accumulate in the outbox, e.g. for `marquee relay`).
    pub dispatch_interval_ms: u64,
    /// How long the outbox publisher's lease lasts without renewal; another node or relay
    /// takes over after that.
    pub lease_ms: u64,
    /// JetStream stream `marquee relay` publishes to (created if missing).
    pub nats_stream: String,
    /// Subjects are `<prefix>.<aggregate type>.<event type>`.
    pub nats_subject_prefix: String,
    /// How often each node reads the outbox for its live seat streams
    /// (`GET /shows/{id}/seats/stream`); a taken seat reaches open maps within about this.
    pub seat_stream_poll_ms: u64,
    /// On PostgreSQL an outbox number can commit after a higher one (or never, when its
    /// transaction rolls back): the seat streams wait this long for a missing number before
    /// passing over it, so that streams stay in order.
    pub seat_stream_gap_wait_ms: u64,
    /// A seat stream is closed after this long; its browser reconnects at once with its
    /// last event id and misses nothing. Keeps long-lived connections spread over nodes.
    pub seat_stream_max_secs: u64,
    /// How this node learns of other nodes' writes (stale cache entries, live seat maps):
    /// `outbox` polls the outbox table; `nats` reads what `marquee relay` publishes, on a
    /// JetStream consumer of its own (needs `nats_url` and a running relay).
    pub follow: EventFollow,
}

/// Where a node follows the deployment's events from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventFollow {
    Outbox,
    Nats,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            dispatch_interval_ms: 100,
            lease_ms: 10_000,
            nats_stream: "MARQUEE_EVENTS".into(),
            nats_subject_prefix: "marquee.events".into(),
            seat_stream_poll_ms: 100,
            seat_stream_gap_wait_ms: 500,
            seat_stream_max_secs: 600,
            follow: EventFollow::Outbox,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// SMTP server for email: `smtps://[user:pass@]host[:465]` (implicit TLS),
    /// `smtp://[user:pass@]host[:587]?tls=required` (STARTTLS, refused without it) or
    /// `smtp://host[:25]` (plain, for a local relay); unset: messages go to the file sink.
    pub smtp_url: Option<String>,
    /// A CA certificate (PEM) to trust for the SMTP server besides the public roots (a
    /// private CA; tests).
    pub smtp_ca_path: Option<std::path::PathBuf>,
    /// Sender address.
    pub from: String,
    /// File the default sink appends messages to (JSON lines); unset: the log.
    pub file: Option<std::path::PathBuf>,
    /// Mail a partner organisation's members of each booking of its shows and each
    /// cancellation (booking id, show, seats, amounts; nothing about the customer).
    pub partner_booking_emails: bool,
    /// How often each node's sender looks for mail that is due (the mail outbox); 0: this
    /// node sends none (another does).
    pub poll_interval_ms: u64,
    /// The wait after a message's first failed attempt; it doubles after each further
    /// failure, up to `retry_max_ms`.
    pub retry_base_ms: u64,
    /// The longest wait between two attempts.
    pub retry_max_ms: u64,
    /// Attempts before a message is given up (`failed`, counted in
    /// `marquee_mail_failed_total`).
    pub max_attempts: u32,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            smtp_ca_path: None,
            from: "Marquee <tickets@marquee.test>".into(),
            file: None,
            partner_booking_emails: true,
            poll_interval_ms: 1_000,
            retry_base_ms: 10_000,
            retry_max_ms: 3_600_000,
            // About 12 hours of retries at the default waits.
            max_attempts: 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeeKind {
    Fixed,
    Percent,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricingConfig {
    /// The convenience fee per ticket: `percent` of the discounted price or a `fixed` amount.
    pub fee_kind: FeeKind,
    /// For `percent`: basis points of each ticket's discounted price (500 = 5%).
    pub fee_basis_points: u32,
    /// For `fixed`: minor units of the show's currency per ticket.
    pub fee_fixed_minor: i64,
    /// How long a show's occupancy, read for its demand price rules, is reused on a node
    /// (milliseconds): demand prices follow sales at most this late. 10 to 60,000.
    pub demand_refresh_ms: i64,
}

impl Default for PricingConfig {
    fn default() -> Self {
        Self {
            fee_kind: FeeKind::Percent,
            fee_basis_points: 500,
            fee_fixed_minor: 0,
            demand_refresh_ms: 1_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// Minutes a screen needs between the end of one show and the start of the next.
    pub cleaning_buffer_minutes: i64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            cleaning_buffer_minutes: 15,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Secret that signs access tokens, at least 32 bytes. Unset: one is generated on first
    /// start and kept in the database, so every node of a deployment shares it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_secret: Option<Secret>,
    /// Lifetime of an access token.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token (each use replaces it).
    pub refresh_token_ttl_secs: u64,
    /// Login attempts per minute for one account.
    pub login_attempts_per_account_per_minute: u32,
    /// Login attempts per minute from one client address.
    pub login_attempts_per_client_per_minute: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            login_attempts_per_account_per_minute: 5,
            login_attempts_per_client_per_minute: 30,
        }
    }
}

/// A configuration secret: its `Debug` never prints the value.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Connections in the PostgreSQL read pool (SQLite reads on each thread's own).
    pub max_connections: u32,
    /// PostgreSQL: writer threads, each with its own connection, running units of work.
    pub write_connections: u32,
    /// How long a request waits for a pooled connection (or a writer) before failing.
    pub acquire_timeout_ms: u64,
    /// PostgreSQL: a statement of a unit of work running longer fails (and its
    /// connection is dropped, which makes the server cancel it).
    pub statement_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// A request still running after this is answered 408.
    pub request_timeout_ms: u64,
    /// Seconds in-flight requests get to finish after a shutdown signal.
    pub shutdown_grace_secs: u64,
    /// A request's header must be complete this long after the connection opened (first
    /// request) or after its first byte (later requests); else the connection is closed.
    pub header_read_timeout_ms: u64,
    /// A keep-alive connection waiting this long for its next request is closed.
    pub idle_timeout_ms: u64,
    /// Open connections at most; a connection beyond it is answered 503 `overloaded` and
    /// closed.
    pub max_connections: usize,
    /// Origins (`scheme://host[:port]`) whose pages may call the API from a browser
    /// (CORS), or `["*"]` for any (tokens travel in headers, never cookies, so no
    /// credentials are allowed either way). Empty (the default): only the app's own origin.
    pub cors_allowed_origins: Vec<String>,
    /// `Strict-Transport-Security` max-age in seconds; 0: not sent, unless the server
    /// terminates TLS itself (then a year). Set it when a proxy in front terminates TLS.
    pub hsts_max_age_secs: u64,
    /// Serve HTTPS: the certificate chain (PEM). Both paths or neither.
    pub tls_cert_path: Option<std::path::PathBuf>,
    /// Serve HTTPS: the certificate's private key (PEM, PKCS#8, PKCS#1 or SEC1).
    pub tls_key_path: Option<std::path::PathBuf>,
}

impl HttpConfig {
    /// The `Strict-Transport-Security` max-age in force: the configured one, else a year
    /// when serving TLS, else none (0).
    pub fn hsts_secs(&self) -> u64 {
        match (self.hsts_max_age_secs, &self.tls_cert_path) {
            (0, Some(_)) => 31_536_000,
            (secs, _) => secs,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Serve browse reads from the in-process response cache.
    pub enabled: bool,
    /// Most responses kept (each is one serialised body).
    pub capacity: usize,
    /// Upper bound on the age of a cached catalog response. Writes through this node
    /// invalidate at once; this bound covers writes made by other processes.
    pub catalog_max_age_ms: u64,
    /// Upper bound on the age of a cached seat map or show detail, for the same reason.
    pub show_max_age_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `tracing` filter directive, e.g. `info` or `marquee=debug,tower_http=info`.
    pub filter: String,
    /// `json` (default, one object per line) or `pretty` for local reading.
    pub format: LogFormat,
    /// Log one line per request at `info` (otherwise at `debug`).
    pub access_log: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://marquee.db".into(),
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            nats_url: None,
            redis_url: None,
            database: DatabaseConfig::default(),
            http: HttpConfig::default(),
            cache: CacheConfig::default(),
            log: LogConfig::default(),
            auth: AuthConfig::default(),
            schedule: ScheduleConfig::default(),
            pricing: PricingConfig::default(),
            booking: BookingConfig::default(),
            payment: PaymentConfig::default(),
            events: EventsConfig::default(),
            notify: NotifyConfig::default(),
            limits: LimitsConfig::default(),
            web: WebConfig::default(),
            webhooks: WebhooksConfig::default(),
            settlement: SettlementConfig::default(),
            waiting_room: WaitingRoomConfig::default(),
            privacy: PrivacyConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: 8,
            write_connections: 8,
            acquire_timeout_ms: 5_000,
            statement_timeout_ms: 15_000,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 256 * 1024,
            request_timeout_ms: 15_000,
            shutdown_grace_secs: 20,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections: 10_000,
            cors_allowed_origins: Vec::new(),
            hsts_max_age_secs: 0,
            tls_cert_path: None,
            tls_key_path: None,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            capacity: 20_000,
            catalog_max_age_ms: 60_000,
            show_max_age_ms: 2_000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Json,
            access_log: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then `file` if given (or `marquee.toml` if present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("marquee.toml")),
        }
        let config: Config = figment
            .merge(Self::environment())
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// `MARQUEE_*` variables that name a configuration key. Others with the same prefix
    /// (`MARQUEE_CONFIG`, `MARQUEE_ADMIN_PASSWORD`, the test suite's) are not configuration
    /// and are left alone; a misspelt key inside a known section is still an error.
    fn environment() -> Env {
        // The top-level keys are the configuration's own fields, so a new section is
        // reachable from the environment the moment it exists.
        let top_level: Vec<String> = serde_json::to_value(Config::default())
            .ok()
            .and_then(|value| value.as_object().map(|o| o.keys().cloned().collect()))
            .unwrap_or_default();
        Env::prefixed("MARQUEE_").split("__").filter(move |key| {
            let first = key.as_str().split('.').next().unwrap_or("");
            top_level
                .iter()
                .any(|known| first.eq_ignore_ascii_case(known))
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if crate::db::Engine::of_url(&self.database_url).is_none() {
            return Err(ConfigError::Invalid(
                "database_url must start with sqlite:, postgres:// or postgresql://".into(),
            ));
        }
        if !(10..=10_000).contains(&self.events.seat_stream_poll_ms) {
            return Err(ConfigError::Invalid(
                "events.seat_stream_poll_ms must be 10 to 10000".into(),
            ));
        }
        if self.http.tls_cert_path.is_some() != self.http.tls_key_path.is_some() {
            return Err(ConfigError::Invalid(
                "http.tls_cert_path and http.tls_key_path go together".into(),
            ));
        }
        if let Some(url) = &self.redis_url
            && !url.starts_with("redis://")
        {
            return Err(ConfigError::Invalid(
                "redis_url must start with redis://".into(),
            ));
        }
        if self.events.follow == EventFollow::Nats && self.nats_url.is_none() {
            return Err(ConfigError::Invalid(
                "events.follow = \"nats\" needs nats_url (MARQUEE_NATS_URL)".into(),
            ));
        }
        if self.events.seat_stream_max_secs == 0 {
            return Err(ConfigError::Invalid(
                "events.seat_stream_max_secs must be at least 1".into(),
            ));
        }
        let booking = &self.booking;
        if booking.hold_secs < 1
            || booking.max_seats == 0
            || booking.bulk_max_seats == 0
            || booking.bulk_max_items == 0
            || booking.bulk_cancel_max == 0
            || booking.group_commit_max_batch == 0
            || booking.cancel_cutoff_minutes < 0
            || self.payment.webhook_tolerance_secs < 1
        {
            return Err(ConfigError::Invalid(
                "booking limits, hold_secs, group_commit_max_batch and webhook_tolerance_secs must be positive".into(),
            ));
        }
        if booking.hold_reminder_lead_secs < 0
            || booking.hold_reminder_lead_secs >= booking.hold_secs
        {
            return Err(ConfigError::Invalid(
                "booking.hold_reminder_lead_secs must be 0 (no reminders) or more, and less \
                 than hold_secs"
                    .into(),
            ));
        }
        if booking.max_held_seats_per_show < booking.max_seats
            || booking.max_held_seats_per_account < booking.max_held_seats_per_show
            || booking.max_held_seats_per_account < booking.bulk_max_seats
        {
            return Err(ConfigError::Invalid(
                "booking.max_held_seats_per_show must be at least max_seats, and \
                 max_held_seats_per_account at least max_held_seats_per_show and bulk_max_seats"
                    .into(),
            ));
        }
        let http = &self.http;
        if http.header_read_timeout_ms == 0
            || http.idle_timeout_ms == 0
            || http.request_timeout_ms == 0
            || http.max_connections == 0
            || http.body_limit_bytes == 0
        {
            return Err(ConfigError::Invalid(
                "http timeouts, max_connections and body_limit_bytes must be positive".into(),
            ));
        }
        if let Some(origin) = http
            .cors_allowed_origins
            .iter()
            .find(|origin| !is_origin(origin))
        {
            return Err(ConfigError::Invalid(format!(
                "http.cors_allowed_origins: {origin:?} is not an origin (scheme://host[:port])"
            )));
        }
        if http.cors_allowed_origins.len() > 1 && http.cors_allowed_origins.iter().any(|o| o == "*")
        {
            return Err(ConfigError::Invalid(
                "http.cors_allowed_origins: \"*\" stands alone".into(),
            ));
        }
        let limits = &self.limits;
        if [
            limits.holds_per_account_per_minute,
            limits.payments_per_booking_per_minute,
            limits.payments_per_account_per_minute,
            limits.registrations_per_client_per_minute,
            limits.quotes_per_client_per_minute,
            limits.waitlist_joins_per_account_per_minute,
            limits.partner_writes_per_org_per_minute,
            limits.review_writes_per_account_per_minute,
            limits.ticket_emails_per_booking_per_minute,
        ]
        .contains(&0)
        {
            return Err(ConfigError::Invalid(
                "every limits.* must be at least 1".into(),
            ));
        }
        if self.database.max_connections == 0
            || self.database.write_connections == 0
            || self.database.statement_timeout_ms == 0
        {
            return Err(ConfigError::Invalid(
                "database.max_connections, write_connections and statement_timeout_ms must be at least 1".into(),
            ));
        }
        if let Some(secret) = &self.auth.jwt_secret
            && secret.expose().len() < 32
        {
            return Err(ConfigError::Invalid(
                "auth.jwt_secret must be at least 32 bytes".into(),
            ));
        }
        if self.auth.access_token_ttl_secs == 0 || self.auth.refresh_token_ttl_secs == 0 {
            return Err(ConfigError::Invalid(
                "auth token lifetimes must be at least 1 second".into(),
            ));
        }
        if !(0..=240).contains(&self.schedule.cleaning_buffer_minutes) {
            return Err(ConfigError::Invalid(
                "schedule.cleaning_buffer_minutes must be 0 to 240".into(),
            ));
        }
        if self.pricing.fee_basis_points > 10_000 || self.pricing.fee_fixed_minor < 0 {
            return Err(ConfigError::Invalid(
                "pricing fee must be 0 to 10000 basis points and a non-negative amount".into(),
            ));
        }
        if !(10..=60_000).contains(&self.pricing.demand_refresh_ms) {
            return Err(ConfigError::Invalid(
                "pricing.demand_refresh_ms must be 10 to 60000".into(),
            ));
        }
        if let Some(url) = &self.notify.smtp_url {
            crate::integration::notify::smtp_security(url).map_err(ConfigError::Invalid)?;
        }
        let notify = &self.notify;
        if notify.poll_interval_ms != 0 && !(10..=60_000).contains(&notify.poll_interval_ms) {
            return Err(ConfigError::Invalid(
                "notify.poll_interval_ms must be 0 (send no mail from this node) or 10 to 60000"
                    .into(),
            ));
        }
        if notify.retry_base_ms == 0
            || notify.retry_base_ms > notify.retry_max_ms
            || notify.retry_max_ms > 7 * 86_400_000
        {
            return Err(ConfigError::Invalid(
                "notify.retry_base_ms must be at least 1 and at most notify.retry_max_ms, \
                 which is at most 7 days (604800000)"
                    .into(),
            ));
        }
        if !(1..=100).contains(&notify.max_attempts) {
            return Err(ConfigError::Invalid(
                "notify.max_attempts must be 1 to 100".into(),
            ));
        }
        if self
            .notify
            .from
            .parse::<lettre::message::Mailbox>()
            .is_err()
        {
            return Err(ConfigError::Invalid(
                "notify.from must be an email address, e.g. `Marquee <tickets@example.com>`".into(),
            ));
        }
        if self.events.nats_stream.is_empty() || self.events.nats_subject_prefix.is_empty() {
            return Err(ConfigError::Invalid(
                "events.nats_stream and events.nats_subject_prefix must not be empty".into(),
            ));
        }
        if self.cache.enabled && self.cache.capacity == 0 {
            return Err(ConfigError::Invalid(
                "cache.capacity must be at least 1 when the cache is enabled".into(),
            ));
        }
        Ok(())
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.http.request_timeout_ms)
    }
}

/// `*`, or an origin as browsers send it: `http(s)://host[:port]`, no path, no trailing
/// slash.
fn is_origin(text: &str) -> bool {
    if text == "*" {
        return true;
    }
    let Ok(url) = url::Url::parse(text) else {
        return false;
    };
    matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.path() == "/"
        && !text.ends_with('/')
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.origin().ascii_serialization() == text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_embedded() {
        let config = Config::default();
        config.validate().unwrap();
        assert_eq!(config.database_url, "sqlite://marquee.db");
        assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's own test harness signature
    fn environment_overrides_file_and_nests_with_double_underscore() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "m.toml",
                "addr = \"127.0.0.1:9000\"\n[cache]\nenabled = true\n",
            )?;
            jail.set_env("MARQUEE_CACHE__ENABLED", "false");
            jail.set_env("MARQUEE_DATABASE_URL", "postgres://x@127.0.0.1/db");
            // Every section is reachable, the newest too.
            jail.set_env("MARQUEE_EVENTS__LEASE_MS", "1234");
            jail.set_env("MARQUEE_NOTIFY__FROM", "Box Office <box@example.com>");
            jail.set_env("MARQUEE_LIMITS__QUOTES_PER_CLIENT_PER_MINUTE", "7");
            let config = Config::load(Some(Path::new("m.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.addr.port(), 9000);
            assert!(!config.cache.enabled);
            assert_eq!(config.events.lease_ms, 1234);
            assert_eq!(config.notify.from, "Box Office <box@example.com>");
            assert_eq!(config.limits.quotes_per_client_per_minute, 7);
            assert_eq!(config.database_url, "postgres://x@127.0.0.1/db");
            Ok(())
        });
    }

    #[test]
    fn example_file_parses_to_the_defaults() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/marquee.example.toml");
        let from_file: Config = Figment::from(Toml::file_exact(path)).extract().unwrap();
        let defaults = Config::default();
        assert_eq!(
            serde_json::to_value(&from_file).unwrap(),
            serde_json::to_value(&defaults).unwrap()
        );
    }

    #[test]
    fn hold_reminders_come_before_the_hold_lapses_or_not_at_all() {
        let mut config = Config::default();
        config.booking.hold_reminder_lead_secs = 0;
        config.validate().unwrap();
        config.booking.hold_reminder_lead_secs = config.booking.hold_secs - 1;
        config.validate().unwrap();
        for bad in [config.booking.hold_secs, -1] {
            config.booking.hold_reminder_lead_secs = bad;
            assert!(config.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let mut config = Config::default();
        config.auth.jwt_secret = Some(Secret::new("x".repeat(40)));
        assert!(!format!("{config:?}").contains("xxxx"));
        config.auth.jwt_secret = Some(Secret::new("short"));
        assert!(config.validate().is_err());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's own test harness signature
    fn unrelated_marquee_variables_are_ignored_but_misspelt_keys_are_not() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("MARQUEE_ADMIN_PASSWORD", "not configuration");
            jail.set_env("MARQUEE_TEST_POSTGRES_URL", "postgres://elsewhere");
            assert!(Config::load(None).is_ok());
            jail.set_env("MARQUEE_CACHE__ENABLD", "false");
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }

    #[test]
    fn unknown_database_scheme_is_refused() {
        let config = Config {
            database_url: "mysql://localhost".into(),
            ..Config::default()
        };
        assert!(config.validate().is_err());
    }

    #[test]
    fn mail_retries_must_be_a_sane_schedule() {
        assert!(Config::default().validate().is_ok());
        let with = |change: fn(&mut NotifyConfig)| {
            let mut config = Config::default();
            change(&mut config.notify);
            config.validate()
        };
        assert!(with(|n| n.retry_base_ms = 0).is_err());
        assert!(with(|n| n.retry_base_ms = n.retry_max_ms + 1).is_err());
        assert!(with(|n| n.retry_max_ms = 8 * 86_400_000).is_err());
        assert!(with(|n| n.max_attempts = 0).is_err());
        assert!(with(|n| n.max_attempts = 101).is_err());
        assert!(with(|n| n.poll_interval_ms = 5).is_err());
        assert!(with(|n| n.poll_interval_ms = 0).is_ok());
        assert!(with(|n| n.max_attempts = 1).is_ok());
    }

    #[test]
    fn cors_origins_are_origins() {
        for good in [
            "*",
            "https://app.example",
            "http://localhost:5173",
            "https://a.b.example:8443",
        ] {
            assert!(is_origin(good), "{good}");
        }
        for bad in [
            "app.example",
            "https://app.example/",
            "https://app.example/path",
            "ftp://app.example",
            "https://user@app.example",
            "https://app.example?x=1",
            "https://APP.example",
            "",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }
}
