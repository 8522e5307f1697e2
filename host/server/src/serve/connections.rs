//! Serving HTTP on accepted connections: the TLS handshake of
//! `--web.config.file`, HTTP/1 and HTTP/2 (ALPN), `--web.read-timeout` on
//! request heads, bodies and idle connections, and shutdown's grace period
//! for open connections.

use super::listener::LimitedListener;
use std::sync::Arc;
use std::time::Instant;

/// How long shutdown waits for open connections when `--web.read-timeout`
/// is 0 (no time limit otherwise).
const SHUTDOWN_GRACE_WITHOUT_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves HTTP/1 on `listener` until `shutdown` completes, then stops
/// accepting, lets each connection finish the request it is on and waits
/// for them to close, at most `read_timeout` (or
/// [`SHUTDOWN_GRACE_WITHOUT_READ_TIMEOUT`]); connections open past that
/// are dropped.
///
/// `read_timeout` (`--web.read-timeout`, as Go's `http.Server.ReadTimeout`
/// with Prometheus' default `IdleTimeout` of the same value): a connection
/// that has not sent a whole request head within it, from its accept or
/// from the end of its previous answer (an idle keep-alive connection), is
/// closed by hyper's header read timer; a request body not read whole
/// within it from the head's arrival ends in 408 and a closed connection;
/// an answer of which the client accepts no byte for that long (it does not
/// read) ends the connection. Either way the connection's
/// `--web.max-connections` slot is freed. The time spent evaluating an
/// answer is not limited by it.
///
/// With `tls`, each connection first completes a TLS handshake with the
/// settings of `--web.config.file` as they are then, within
/// `read_timeout` (as Go's `ReadTimeout` bounds the handshake too);
/// a client that sends no ClientHello, garbage, or stalls mid-handshake is
/// dropped then and its slot freed.
pub(super) async fn serve_http(
    listener: LimitedListener,
    router: axum::Router,
    read_timeout: std::time::Duration,
    tls: Option<Arc<wasmetheus_web::WebSecurity>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let grace = if read_timeout.is_zero() {
        SHUTDOWN_GRACE_WITHOUT_READ_TIMEOUT
    } else {
        read_timeout
    };
    serve_http_with_grace(listener, router, read_timeout, grace, tls, shutdown).await;
}

/// [`serve_http`] with the time shutdown waits for open connections.
async fn serve_http_with_grace(
    mut listener: LimitedListener,
    router: axum::Router,
    read_timeout: std::time::Duration,
    grace: std::time::Duration,
    tls: Option<Arc<wasmetheus_web::WebSecurity>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let read_timeout = (!read_timeout.is_zero()).then_some(read_timeout);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(read_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // Every open connection's task, so that those still open when the
    // grace period ends can be dropped.
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (mut stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            // Reaps the tasks of closed connections (accepting is
            // cancel-safe: a slot taken for it is given back).
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = &mut shutdown => break,
        };
        stream.write_timeout = read_timeout;
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request| {
            // For the authentication log.
            request.extensions_mut().insert(peer);
            answer(router.clone(), request, read_timeout)
        });
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            let ended = match tls {
                None => {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    watcher.watch(builder.serve_connection(io, service)).await
                }
                Some(web) => {
                    let handshake = web.accept(stream);
                    let accepted = match read_timeout {
                        Some(timeout) => match tokio::time::timeout(timeout, handshake).await {
                            Ok(accepted) => accepted,
                            Err(_) => {
                                tracing::debug!(
                                    %peer,
                                    "TLS handshake not completed within the read timeout"
                                );
                                return;
                            }
                        },
                        None => handshake.await,
                    };
                    let stream = match accepted {
                        Ok(stream) => stream,
                        Err(e @ wasmetheus_web::AcceptError::Config(_)) => {
                            tracing::error!(%peer, "refusing a connection: {e}");
                            return;
                        }
                        Err(e) => {
                            tracing::debug!(%peer, "{e}");
                            return;
                        }
                    };
                    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                    let io = hyper_util::rt::TokioIo::new(stream);
                    if h2 {
                        serve_h2(io, service, watcher, read_timeout, peer).await
                    } else {
                        watcher.watch(builder.serve_connection(io, service)).await
                    }
                }
            };
            if let Err(e) = ended {
                // Timeouts, resets and malformed requests: the client's
                // business, not an operator's.
                tracing::debug!(%peer, "HTTP connection ended: {e}");
            }
        });
    }
    // No new connections; the waiting ones are refused when the socket
    // closes.
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            "closing the HTTP connections still open {} after shutdown began",
            wasmetheus_promql::printer::format_duration(grace.as_millis() as i64)
        );
    }
    // Drops what is left (their requests' queries are canceled with them)
    // and waits until they are gone.
    connections.shutdown().await;
}

/// Serves an HTTP/2 connection (TLS whose ALPN chose `h2`, offered when
/// `http_server_config.http2` is on, the default). As Go's server closes
/// HTTP/2 connections idle for its `IdleTimeout` (Prometheus: the read
/// timeout), a connection with no request in progress (none whose answer
/// is still being produced or sent) for `read_timeout` is closed; that
/// also ends a client that never completes a request's headers. Pings
/// every `read_timeout` close one whose peer stopped answering.
async fn serve_h2<I, S>(
    io: I,
    service: S,
    watcher: hyper_util::server::graceful::Watcher,
    read_timeout: Option<std::time::Duration>,
    peer: std::net::SocketAddr,
) -> Result<(), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let activity = Arc::new(Activity {
        in_flight: std::sync::atomic::AtomicUsize::new(0),
        last: parking_lot::Mutex::new(Instant::now()),
    });
    let tracked = {
        let activity = Arc::clone(&activity);
        hyper::service::service_fn(move |request| {
            let busy = Activity::begin(&activity);
            let answering = service.call(request);
            async move {
                let response = answering.await?;
                // Busy until the answer's body has been sent (or dropped).
                Ok::<_, std::convert::Infallible>(
                    response.map(|body| axum::body::Body::new(BusyBody { body, _busy: busy })),
                )
            }
        })
    };
    let mut builder =
        hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder.timer(hyper_util::rt::TokioTimer::new());
    if let Some(timeout) = read_timeout {
        builder
            .keep_alive_interval(Some(timeout))
            .keep_alive_timeout(timeout);
    }
    let serving = watcher.watch(builder.serve_connection(io, tracked));
    tokio::select! {
        ended = serving => ended,
        () = activity.idle(read_timeout) => {
            tracing::debug!(%peer, "closing an idle HTTP/2 connection");
            Ok(())
        }
    }
}

/// Requests in progress on an HTTP/2 connection, and when the last ended.
struct Activity {
    in_flight: std::sync::atomic::AtomicUsize,
    last: parking_lot::Mutex<Instant>,
}

/// A request in progress; ends when dropped.
struct Busy(Arc<Activity>);

impl Activity {
    fn begin(activity: &Arc<Activity>) -> Busy {
        activity
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Busy(Arc::clone(activity))
    }

    /// Completes once no request has been in progress for `timeout`
    /// (never without one).
    async fn idle(&self, timeout: Option<std::time::Duration>) {
        let Some(timeout) = timeout else {
            return std::future::pending().await;
        };
        loop {
            let since = self.last.lock().elapsed();
            let busy = self.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0;
            if !busy && since >= timeout {
                return;
            }
            let wait = if busy { timeout } else { timeout - since };
            tokio::time::sleep(wait).await;
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.last.lock() = Instant::now();
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// An answer's body that keeps its request counted as in progress.
struct BusyBody {
    body: axum::body::Body,
    _busy: Busy,
}

impl http_body::Body for BusyBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Routes one request, its body read under `read_timeout` from now.
async fn answer(
    router: axum::Router,
    request: hyper::Request<hyper::body::Incoming>,
    read_timeout: Option<std::time::Duration>,
) -> Result<axum::response::Response, std::convert::Infallible> {
    use tower::ServiceExt;
    let Some(timeout) = read_timeout else {
        return router.oneshot(request.map(axum::body::Body::new)).await;
    };
    let timed_out = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let request = request.map(|body| {
        axum::body::Body::new(ReadDeadline::new(body, timeout, Arc::clone(&timed_out)))
    });
    let response = router.oneshot(request).await?;
    if !timed_out.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(response);
    }
    // Whatever the handler made of its cut-off body, the answer is that it
    // came too slowly; the connection is not reused (hyper closes one whose
    // body was not read to the end).
    let message = format!(
        "the request body was not received within the read timeout of {}; \
         send it faster or raise --web.read-timeout\n",
        wasmetheus_promql::printer::format_duration(timeout.as_millis() as i64)
    );
    Ok(axum::response::IntoResponse::into_response((
        axum::http::StatusCode::REQUEST_TIMEOUT,
        [(axum::http::header::CONNECTION, "close")],
        message,
    )))
}

/// A request body that fails once its deadline passes before it has been
/// read to the end, so a client trickling a body cannot hold a connection.
struct ReadDeadline<B> {
    inner: B,
    /// `None` for a body that was empty from the start.
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    timed_out: Arc<std::sync::atomic::AtomicBool>,
}

impl<B: http_body::Body + Unpin> ReadDeadline<B> {
    fn new(
        inner: B,
        timeout: std::time::Duration,
        timed_out: Arc<std::sync::atomic::AtomicBool>,
    ) -> Self {
        let deadline = (!inner.is_end_stream()).then(|| Box::pin(tokio::time::sleep(timeout)));
        ReadDeadline {
            inner,
            deadline,
            timed_out,
        }
    }
}

/// Why a body read was cut off.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within the read timeout (--web.read-timeout)")]
struct BodyReadTimeout;

impl<B> http_body::Body for ReadDeadline<B>
where
    B: http_body::Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        if let Poll::Ready(frame) = std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if let Some(deadline) = &mut self.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            self.deadline = None;
            self.timed_out
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Poll::Ready(Some(Err(Box::new(BodyReadTimeout))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// How long a test waits for what a timeout of a second at most should
    /// bring about, on a loaded machine.
    const LIVENESS: Duration = Duration::from_secs(30);

    /// An answer that never ends: 64 KiB of zeros at a time.
    struct Endless;

    impl http_body::Body for Endless {
        type Data = axum::body::Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
            std::task::Poll::Ready(Some(Ok(http_body::Frame::data(
                axum::body::Bytes::from_static(&[0; 64 << 10]),
            ))))
        }
    }

    /// A router answering `/ok` at once, `/endless` without end and
    /// `/hang` never (telling `entered` when a request reaches it).
    fn router(entered: tokio::sync::mpsc::UnboundedSender<()>) -> axum::Router {
        axum::Router::new()
            .route("/ok", axum::routing::get(|| async { "ok" }))
            .route(
                "/endless",
                axum::routing::get(|| async { axum::body::Body::new(Endless) }),
            )
            .route(
                "/hang",
                axum::routing::get(move || {
                    let _ = entered.send(());
                    std::future::pending::<&'static str>()
                }),
            )
    }

    /// A server on a loopback port with `max` connection slots, serving
    /// [`router`] until `stop` is sent.
    struct TestServer {
        address: std::net::SocketAddr,
        /// Told when a request reaches `/hang`.
        entering: tokio::sync::mpsc::UnboundedReceiver<()>,
        stop: tokio::sync::oneshot::Sender<()>,
        serving: tokio::task::JoinHandle<()>,
    }

    /// Starts a [`TestServer`] without TLS; `grace` overrides the shutdown
    /// grace period [`super::serve_http`] derives from `read_timeout`.
    async fn serve(max: usize, read_timeout: Duration, grace: Option<Duration>) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let listener = crate::serve::listener::LimitedListener::new(listener, max);
        let (entered, entering) = tokio::sync::mpsc::unbounded_channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = router(entered);
        let shutdown = async {
            let _ = stopped.await;
        };
        let serving = match grace {
            None => tokio::spawn(super::serve_http(
                listener,
                router,
                read_timeout,
                None,
                shutdown,
            )),
            Some(grace) => tokio::spawn(super::serve_http_with_grace(
                listener,
                router,
                read_timeout,
                grace,
                None,
                shutdown,
            )),
        };
        TestServer {
            address,
            entering,
            stop,
            serving,
        }
    }

    /// Connects with a small receive buffer (so that an unread answer
    /// fills the sockets soon) and sends a GET of `path`.
    async fn request(address: std::net::SocketAddr, path: &str) -> tokio::net::TcpStream {
        use tokio::io::AsyncWriteExt;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(address).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        stream
    }

    /// Reads until the server closes the connection (EOF or a reset);
    /// whether it did within [`LIVENESS`].
    async fn closed(mut stream: tokio::net::TcpStream) -> bool {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0u8; 1 << 16];
        tokio::time::timeout(LIVENESS, async {
            while let Ok(n) = stream.read(&mut buffer).await
                && n > 0
            {}
        })
        .await
        .is_ok()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_unread_answer_closes_its_connection_and_frees_its_slot() {
        let server = serve(1, Duration::from_millis(500), None).await;
        let address = server.address;
        // The only slot: a client asking for an endless answer and never
        // reading it.
        let stalled = request(address, "/endless").await;
        // A second client is served once the stalled one is closed.
        let waiting = tokio::spawn(async move {
            let mut stream = request(address, "/ok").await;
            let mut answer = Vec::new();
            tokio::io::AsyncReadExt::read_buf(&mut stream, &mut answer)
                .await
                .unwrap();
            String::from_utf8_lossy(&answer).into_owned()
        });
        let answer = tokio::time::timeout(LIVENESS, waiting)
            .await
            .expect("the stalled connection kept the only slot")
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(closed(stalled).await, "the stalled connection stayed open");
        let _ = server.stop.send(());
        tokio::time::timeout(LIVENESS, server.serving)
            .await
            .expect("the server stops")
            .unwrap();
    }

    /// Sends a request whose handler never answers, stops the server once
    /// the handler runs, and checks that the server ends (`what` if not)
    /// and closes that connection.
    async fn stop_with_a_hanging_request(mut server: TestServer, what: &str) {
        let hanging = request(server.address, "/hang").await;
        tokio::time::timeout(LIVENESS, server.entering.recv())
            .await
            .expect("the request reaches its handler");
        let _ = server.stop.send(());
        tokio::time::timeout(LIVENESS, server.serving)
            .await
            .expect(what)
            .unwrap();
        assert!(closed(hanging).await, "the hanging connection stayed open");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn shutdown_drops_connections_still_open_after_its_grace_period() {
        // No read timeout: nothing but the grace period ends the request.
        let server = serve(4, Duration::ZERO, Some(Duration::from_millis(200))).await;
        stop_with_a_hanging_request(server, "shutdown waited for a request that never ends").await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn shutdown_waits_for_open_connections_at_most_the_read_timeout() {
        let server = serve(4, Duration::from_millis(300), None).await;
        stop_with_a_hanging_request(server, "shutdown waited beyond the read timeout").await;
    }
}
