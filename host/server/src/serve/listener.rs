//! `--web.max-connections` and stalled writes: a listener that accepts a
//! connection only while a slot is free, and connections that hold their
//! slot until closed and fail writes the client has accepted no byte of
//! for `--web.read-timeout`.

use std::sync::Arc;

/// `--web.max-connections`: a listener that accepts a connection only
/// while fewer than its limit are open, as Prometheus'
/// `netutil.LimitListener`; further clients wait in the kernel's backlog
/// until one closes.
pub(super) struct LimitedListener {
    inner: tokio::net::TcpListener,
    slots: Arc<tokio::sync::Semaphore>,
}

impl LimitedListener {
    pub(super) fn new(inner: tokio::net::TcpListener, max: usize) -> Self {
        LimitedListener {
            inner,
            slots: Arc::new(tokio::sync::Semaphore::new(max.max(1))),
        }
    }
}

impl LimitedListener {
    /// The next connection, once a slot is free.
    pub(super) async fn accept(&mut self) -> (LimitedStream, std::net::SocketAddr) {
        let Ok(slot) = Arc::clone(&self.slots).acquire_owned().await else {
            // Never closed; should it be, accept nothing more.
            return std::future::pending().await;
        };
        loop {
            match self.inner.accept().await {
                Ok((stream, address)) => {
                    return (
                        LimitedStream {
                            stream,
                            _slot: slot,
                            write_timeout: None,
                            stalled: None,
                        },
                        address,
                    );
                }
                // The peer gave up before it was accepted: take the next.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionRefused
                            | std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                    ) => {}
                // Out of file descriptors, most likely: wait for some to
                // close rather than spin.
                Err(e) => {
                    tracing::error!("accepting an HTTP connection failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// An accepted connection holding its slot until it is closed, whose
/// writes fail once the peer has accepted no byte for `write_timeout`.
pub(super) struct LimitedStream {
    stream: tokio::net::TcpStream,
    _slot: tokio::sync::OwnedSemaphorePermit,
    /// `--web.read-timeout`; `None`: writes wait for ever.
    pub(super) write_timeout: Option<std::time::Duration>,
    /// Running from the first write that found the socket full since the
    /// last one that went through.
    stalled: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

/// Why a connection was closed while its answer was being written.
#[derive(Debug, thiserror::Error)]
#[error(
    "the client accepted no byte of the answer within the read timeout (--web.read-timeout); \
     it must read its answers"
)]
struct WriteStalled;

impl LimitedStream {
    /// A write's outcome, with the stall deadline applied: a write that
    /// went through (or failed) ends a stall; one that finds the socket
    /// full starts one, or fails once it has lasted `write_timeout`.
    fn progress(
        &mut self,
        cx: &mut std::task::Context<'_>,
        written: std::task::Poll<std::io::Result<usize>>,
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        if written.is_ready() {
            self.stalled = None;
            return written;
        }
        let Some(timeout) = self.write_timeout else {
            return Poll::Pending;
        };
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if stalled.as_mut().poll(cx).is_ready() {
            self.stalled = None;
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                WriteStalled,
            )));
        }
        Poll::Pending
    }
}

impl tokio::io::AsyncRead for LimitedStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let written = std::pin::Pin::new(&mut self.stream).poll_write(cx, buf);
        self.progress(cx, written)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let written = std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.progress(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
