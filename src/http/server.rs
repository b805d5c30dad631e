//! Accepting connections and serving HTTP/1.1 on them, with the limits a public server
//! needs and `axum::serve` does not offer: how long a request's header may take to
//! arrive, how long a keep-alive connection may wait for its next request, and how many
//! connections may be open (the excess gets a fast 503 and is closed). SIGTERM stops
//! accepting and lets in-flight requests finish; idle connections close at once.
//!
//! Why not hyper's own `header_read_timeout`: its clock starts whenever the connection
//! waits for a request head, which includes the wait for the next request on a keep-alive
//! connection (hyper 1.x `proto/h1/conn.rs`, `poll_read_head`, re-armed by `State::idle`).
//! It would close idle keep-alive connections after the header timeout and leave no room
//! for a longer idle timeout. So both clocks are kept here, per connection, from what the
//! connection actually does: bytes read and requests in flight.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::{Pin, pin},
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{body::Body, extract::ConnectInfo, response::IntoResponse};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, OwnedSemaphorePermit, Semaphore, watch},
    time::Instant,
};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::error::ApiError;
use crate::config::HttpConfig;

/// Connections over the cap that may be waiting for their 503 at once; beyond this they
/// are closed without an answer.
const SHED_AT_ONCE: usize = 256;
/// How long an over-the-cap connection may take to send its request head.
const SHED_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// The connection limits from `[http]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From accepting a connection, or from the first byte of a later request, until
    /// that request's header is complete.
    pub header_read: Duration,
    /// How long a keep-alive connection may wait for its next request.
    pub idle: Duration,
    /// Open connections at most; more are answered 503 and closed.
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(http: &HttpConfig) -> Self {
        Self {
            header_read: Duration::from_millis(http.header_read_timeout_ms),
            idle: Duration::from_millis(http.idle_timeout_ms),
            max_connections: http.max_connections,
        }
    }
}

/// Serves `service` on `listener` until `shutdown` resolves, then stops accepting, asks
/// every connection to close after its current request, and returns when all have.
pub async fn serve(
    listener: TcpListener,
    service: super::Service,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let shedding = Arc::new(Semaphore::new(SHED_AT_ONCE));
    // Connections watch `stopping` to begin their graceful close, and each holds a
    // receiver of `closed` until it ends, so `closed_tx.closed()` says "all are done".
    let (stopping_tx, stopping_rx) = watch::channel(false);
    let (closed_tx, closed_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        match open.clone().try_acquire_owned() {
            Ok(permit) => {
                metrics::gauge!("marquee_http_connections").increment(1.0);
                tokio::spawn(connection(
                    stream,
                    remote,
                    service.clone(),
                    limits,
                    tls.clone(),
                    permit,
                    stopping_rx.clone(),
                    closed_rx.clone(),
                ));
            }
            Err(_) => {
                metrics::counter!("marquee_http_connections_shed_total").increment(1);
                // Over TLS a plain 503 would be noise to the client: the socket just closes.
                if tls.is_none()
                    && let Ok(permit) = shedding.clone().try_acquire_owned()
                {
                    tokio::spawn(shed(stream, permit));
                }
            }
        }
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    drop(closed_rx);
    closed_tx.closed().await;
    Ok(())
}

/// Raises the soft limit on open files to the hard limit (a serving process needs one
/// descriptor per connection, and the usual soft default of 1024 is far below
/// `http.max_connections`), and warns when even that leaves too few.
pub fn raise_open_file_limit(max_connections: usize) {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given and nothing else.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            // SAFETY: setrlimit reads the struct it is given and nothing else.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit = raised;
            }
        }
        // Database connections, the listener, log files and the like need some too.
        let wanted = (max_connections as libc::rlim_t).saturating_add(256);
        if limit.rlim_cur < wanted {
            tracing::warn!(
                open_files = limit.rlim_cur,
                max_connections,
                "the open-file limit is below http.max_connections; accept will fail before the cap sheds load"
            );
        }
    }
}

/// `accept` fails when the process is out of file descriptors (or the peer gave up
/// already); the listener stays usable, so wait briefly for connections to close.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One connection under the cap: HTTP/1.1 with keep-alive, closed when a header takes
/// too long or the connection idles too long, and gracefully at shutdown.
#[allow(clippy::too_many_arguments)]
async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    service: super::Service,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    _permit: OwnedSemaphorePermit,
    mut stopping: watch::Receiver<bool>,
    _open: watch::Receiver<()>,
) {
    // The TLS handshake counts against the header's time, like the bytes it precedes.
    let stream = match tls {
        None => Socket::Plain(stream),
        Some(acceptor) => {
            match tokio::time::timeout(limits.header_read, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => Socket::Tls(Box::new(stream)),
                Ok(Err(error)) => {
                    tracing::debug!(%remote, %error, "TLS handshake failed");
                    metrics::gauge!("marquee_http_connections").decrement(1.0);
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake timed out");
                    metrics::gauge!("marquee_http_connections").decrement(1.0);
                    return;
                }
            }
        }
    };
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let service = PerConnection {
        service,
        remote,
        activity: activity.clone(),
    };
    let mut builder = http1::Builder::new();
    // Kept here (see the module comment), not by hyper.
    builder.header_read_timeout(None);
    let mut conn = builder.serve_connection(io, service);
    let mut stopping_seen = false;
    loop {
        tokio::select! {
            result = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                linger(conn.into_parts().io.into_inner().stream).await;
                break;
            }
            reason = activity.expired(limits) => {
                // Dropping the connection closes the socket; no request is in flight.
                tracing::debug!(%remote, reason, "closing connection");
                break;
            }
            changed = stopping.changed(), if !stopping_seen => {
                stopping_seen = true;
                if changed.is_ok() {
                    Pin::new(&mut conn).graceful_shutdown();
                }
            }
        }
    }
    metrics::gauge!("marquee_http_connections").decrement(1.0);
}

/// How long, and how much of a request nobody will read, a closing connection still
/// takes in after its last response.
const LINGER_FOR: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 256 * 1024;

/// Closes a connection the way a client can read its last response: the response was sent
/// before the request's body was read to the end (a 413, say), and closing a socket with
/// unread bytes makes the kernel answer with a reset, which can destroy the response
/// before the client reads it. So the write side is shut first and what still arrives is
/// read and dropped, for a short while and up to a bound.
async fn linger(mut stream: Socket) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 8192];
    let mut taken = 0;
    let _ = tokio::time::timeout(LINGER_FOR, async {
        while taken < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => taken += n,
            }
        }
    })
    .await;
}

/// A connection over the cap: answers its request 503 `overloaded` and closes.
async fn shed(stream: TcpStream, _permit: OwnedSemaphorePermit) {
    let service = hyper::service::service_fn(|_request: hyper::Request<Incoming>| async {
        let mut response = ApiError::Overloaded.into_response();
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        Ok::<_, Infallible>(response)
    });
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(false)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(SHED_HEADER_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(SHED_HEADER_TIMEOUT * 2, conn).await;
}

/// What a connection is doing, for its two clocks. Times are milliseconds since the
/// connection was accepted.
struct Activity {
    accepted: Instant,
    /// Requests handed to the service whose response has not been written yet.
    in_flight: AtomicU32,
    /// Requests handed to the service so far.
    requests: AtomicU32,
    /// When the connection last had nothing in flight.
    idle_since: AtomicU64,
    /// When the first byte after the last request's header arrived; `NONE` when none has.
    head_since: AtomicU64,
    /// Wakes the watchdog when a deadline may have moved earlier or appeared.
    changed: Notify,
}

const NONE: u64 = u64::MAX;

impl Activity {
    fn new() -> Self {
        Self {
            accepted: Instant::now(),
            in_flight: AtomicU32::new(0),
            requests: AtomicU32::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NONE),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    /// Bytes arrived: if they start a request head, its header clock starts now. Bytes
    /// read while a request is in flight are its body (or, rarely, a pipelined request,
    /// which then waits under the idle clock until its next byte).
    fn bytes_read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_since.load(Ordering::Relaxed) == NONE
        {
            self.head_since.store(self.now(), Ordering::Relaxed);
            self.changed.notify_one();
        }
    }

    /// A request's header is complete and the service has it.
    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.head_since.store(NONE, Ordering::Relaxed);
    }

    /// A request's response is written (or abandoned).
    fn request_finished(&self) {
        self.idle_since.store(self.now(), Ordering::Relaxed);
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.changed.notify_one();
        }
    }

    /// When the connection must close if nothing changes, and why; `None` while a
    /// request is in flight (the request timeout bounds that).
    fn deadline(&self, limits: Limits) -> Option<(u64, &'static str)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(NONE / 2);
        let idle_since = self.idle_since.load(Ordering::Relaxed);
        let head_since = self.head_since.load(Ordering::Relaxed);
        Some(if head_since != NONE {
            (
                head_since.max(idle_since) + ms(limits.header_read),
                "header read timeout",
            )
        } else if self.requests.load(Ordering::Relaxed) == 0 {
            // A new connection owes its first request head within the header timeout.
            (idle_since + ms(limits.header_read), "header read timeout")
        } else {
            (idle_since + ms(limits.idle), "idle timeout")
        })
    }

    /// Resolves when a deadline passes without anything changing it.
    async fn expired(&self, limits: Limits) -> &'static str {
        loop {
            let changed = self.changed.notified();
            let mut changed = pin!(changed);
            changed.as_mut().enable();
            match self.deadline(limits) {
                None => changed.await,
                Some((deadline, reason)) => {
                    let now = self.now();
                    if now >= deadline {
                        return reason;
                    }
                    let wait = Duration::from_millis(deadline - now);
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = changed => {}
                    }
                }
            }
        }
    }
}

/// A connection's byte stream: the socket, or TLS over it (`http.tls_cert_path`).
enum Socket {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Socket::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Socket::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Socket::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Socket::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Socket::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Socket::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Socket::Plain(stream) => stream.is_write_vectored(),
            Socket::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Socket::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Socket::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Socket::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Socket::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The TLS acceptor for `http.tls_cert_path` and `http.tls_key_path` (PEM: the
/// certificate chain, and the private key), or `None` when they are not set. HTTP/1.1
/// over TLS 1.2 and 1.3 (rustls' safe defaults).
pub fn tls_acceptor(http: &HttpConfig) -> Result<Option<TlsAcceptor>, String> {
    use tokio_rustls::rustls;
    let (Some(cert_path), Some(key_path)) = (&http.tls_cert_path, &http.tls_key_path) else {
        return Ok(None);
    };
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let cert_pem = read(cert_path)?;
    let key_pem = read(key_path)?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", cert_path.display()));
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| format!("{}: {e}", key_path.display()))?
        .ok_or_else(|| format!("{}: no private key in it", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the certificate and key do not go together: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// The socket, telling `Activity` when bytes arrive.
struct Watched {
    stream: Socket,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The service as one connection calls it: adds the client address (`ConnectInfo`, for
/// the login limiter) and counts the request in flight until its response is written.
struct PerConnection {
    service: super::Service,
    remote: SocketAddr,
    activity: Arc<Activity>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for PerConnection {
    type Response = hyper::Response<Tracked>;
    type Error = Infallible;
    type Future = Responding;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.remote));
        self.activity.request_started();
        Responding {
            inner: self.service.clone().oneshot(request),
            in_flight: Some(InFlight(self.activity.clone())),
        }
    }
}

/// One request in flight; dropping it (with the written response body, or with the
/// abandoned request) marks the request finished.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

type Inner = tower::util::Oneshot<super::Service, hyper::Request<Incoming>>;

pin_project_lite::pin_project! {
    /// The service's response future, handing `InFlight` on to the response body.
    struct Responding {
        #[pin]
        inner: Inner,
        in_flight: Option<InFlight>,
    }
}

impl Future for Responding {
    type Output = Result<hyper::Response<Tracked>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(response)) => response,
            Poll::Ready(Err(never)) => match never {},
        };
        let in_flight = this.in_flight.take();
        Poll::Ready(Ok(response.map(|body| Tracked {
            body,
            _in_flight: in_flight,
        })))
    }
}

/// A response body that holds its request's `InFlight` until hyper has written it.
struct Tracked {
    body: Body,
    _in_flight: Option<InFlight>,
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
