//! Every request head is checked before hyper parses it, so that a malformed one gets a JSON
//! answer in the envelope of the API it was meant for.
//!
//! hyper answers a head it cannot parse (a raw 0xFF byte or a space in the path, a NUL in a header
//! value, a bad or doubled `Content-Length`, more than 1,024 headers, a 70 KiB path, a garbled
//! request line) with an empty-bodied 400, 414 or 431, and offers no hook to change that. So the
//! accept loop wraps each socket in [`CheckedIo`]: it holds back every head until it is complete,
//! parses it with `httparse` (the parser hyper uses) plus the checks hyper adds on top, and only
//! then lets hyper read it. A head that fails is never shown to hyper: in its place hyper reads a
//! fixed, valid request for [`REFUSED_PATH`], which the connection's service answers with the
//! refusal ([`Refusals`]) and `Connection: close`. Going through hyper rather than writing to the
//! socket directly keeps the answers of pipelined requests in order.
//!
//! To find the next head on a keep-alive connection, the wrapper follows each body's framing
//! (`Content-Length`, or the chunked encoding) without buffering it: a sized body is read straight
//! into hyper's buffer. If it ever loses track (a chunked body hyper will refuse anyway, and then
//! close the connection), it stops checking that connection. Bytes past a head are never released
//! before that head has passed, so hyper never sees an unchecked head. The header-read timeout is
//! still hyper's: its clock runs from the moment it asks for a head, whether or not bytes come.

use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::http::{Method, Uri};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::error::ApiError;

/// The request hyper reads in place of a refused head; [`Refusals::take`] recognises it.
pub const REFUSED_PATH: &str = "/.authtrail/refused-head";
const REFUSED_HEAD: &[u8] =
    b"GET /.authtrail/refused-head HTTP/1.1\r\nhost: authtrail\r\nconnection: close\r\n\r\n";

/// Most headers a head may carry before it is refused here (431). Our own limit, 128, is checked
/// later by `protect::admit` with the same status; this one only bounds the parse.
pub const MAX_PARSED_HEADERS: usize = crate::protect::MAX_HEADERS * 8;

/// hyper's own limit on a request target (`MAX_URI_LEN`); 414 above it.
const MAX_URI_LEN: usize = (u16::MAX - 1) as usize;

/// Bytes read from the socket at a time while looking for a head.
const READ_CHUNK: usize = 8 * 1024;

/// After a refusal, how long and how much of what the client still sends is read and dropped
/// before the socket closes: closing with unread data makes the kernel send a reset, which can
/// destroy the answer before the client reads it (the "lingering close" of other servers).
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 256 * 1024;

/// The refusal waiting for a connection's service, shared by the IO wrapper (which decides) and
/// the service (which answers).
#[derive(Clone, Default)]
pub struct Refusals(Arc<Mutex<Option<Refusal>>>);

/// A refused head: the path it named (to pick the envelope) and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub path: String,
    pub error: ApiError,
}

impl Refusals {
    /// The refusal to answer instead of the request, when `path` is the stand-in request's.
    pub fn take(&self, path: &str) -> Option<Refusal> {
        if path != REFUSED_PATH {
            return None;
        }
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn set(&self, r: Refusal) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    }
}

/// Where the wrapper is in the byte stream of a connection.
#[derive(Debug)]
enum Phase {
    /// Waiting for a complete head.
    Head,
    /// Inside a sized body: this many bytes left.
    Sized(u64),
    /// Inside a chunked body.
    Chunked(Chunked),
    /// Lost track of the framing: everything passes unchecked (hyper refuses the body and closes).
    Unchecked,
    /// A head was refused: the stand-in request has been queued; nothing after it is read.
    Refused,
}

/// A socket whose request heads are checked before hyper reads them (see the module docs).
pub struct CheckedIo<S> {
    inner: S,
    /// Bytes read from the socket and not yet handed to hyper; the first `cleared` of them have
    /// passed the check.
    pending: BytesMut,
    cleared: usize,
    /// How much of the head being gathered has been searched for its end.
    searched: usize,
    phase: Phase,
    max_head_bytes: usize,
    refusals: Refusals,
    /// The lingering close after a refusal: its deadline and the bytes dropped so far.
    linger: Option<Pin<Box<Sleep>>>,
    lingered: usize,
}

impl<S> CheckedIo<S> {
    /// Wraps `inner`; heads longer than `max_head_bytes` are refused (414 or 431).
    pub fn new(inner: S, max_head_bytes: usize, refusals: Refusals) -> CheckedIo<S> {
        CheckedIo {
            inner,
            pending: BytesMut::new(),
            cleared: 0,
            searched: 0,
            phase: Phase::Head,
            max_head_bytes,
            refusals,
            linger: None,
            lingered: 0,
        }
    }

    /// Moves `cleared` forward over what has arrived, as far as the checks and framing allow.
    fn scan(&mut self) {
        loop {
            let rest = &self.pending[self.cleared..];
            match &mut self.phase {
                Phase::Head => {
                    if rest.is_empty() {
                        return;
                    }
                    match find_head(rest, &mut self.searched, self.max_head_bytes) {
                        Found::Incomplete => return,
                        Found::Head(len) => match check(&rest[..len]) {
                            Ok(body) => {
                                self.searched = 0;
                                self.cleared += len;
                                self.phase = body;
                            }
                            Err(refusal) => return self.refuse(refusal),
                        },
                        Found::Refused(refusal) => return self.refuse(refusal),
                    }
                }
                Phase::Sized(left) => {
                    let n = (*left).min(rest.len() as u64);
                    self.cleared += n as usize;
                    *left -= n;
                    if *left > 0 {
                        return;
                    }
                    self.phase = Phase::Head;
                }
                Phase::Chunked(chunked) => match chunked.advance(rest) {
                    Chunks::More(n) => {
                        self.cleared += n;
                        return;
                    }
                    Chunks::Done(n) => {
                        self.cleared += n;
                        self.phase = Phase::Head;
                    }
                    Chunks::Lost => self.phase = Phase::Unchecked,
                },
                Phase::Unchecked => {
                    self.cleared = self.pending.len();
                    return;
                }
                Phase::Refused => return,
            }
        }
    }

    /// Drops the refused head (and anything after it), and queues the stand-in request.
    fn refuse(&mut self, refusal: Refusal) {
        tracing::debug!(path = %refusal.path, error = ?refusal.error, "refused a malformed request head");
        self.refusals.set(refusal);
        self.pending.truncate(self.cleared);
        self.pending.extend_from_slice(REFUSED_HEAD);
        self.cleared = self.pending.len();
        self.phase = Phase::Refused;
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CheckedIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.cleared > 0 {
                let n = this.cleared.min(buf.remaining());
                buf.put_slice(&this.pending[..n]);
                this.pending.advance(n);
                this.cleared -= n;
                return Poll::Ready(Ok(()));
            }
            match this.phase {
                // After the stand-in request, nothing: hyper answers it and closes. (An EOF here
                // would make hyper drop the connection before answering.)
                Phase::Refused => return Poll::Pending,
                // Most of a sized body goes straight into hyper's buffer.
                Phase::Sized(left) if this.pending.is_empty() && buf.remaining() > 0 => {
                    let want = left.min(buf.remaining() as u64) as usize;
                    let dst = buf.initialize_unfilled_to(want);
                    let mut direct = ReadBuf::new(dst);
                    ready!(Pin::new(&mut this.inner).poll_read(cx, &mut direct))?;
                    let n = direct.filled().len();
                    buf.advance(n);
                    this.phase = match left - n as u64 {
                        0 => Phase::Head,
                        left => Phase::Sized(left),
                    };
                    return Poll::Ready(Ok(()));
                }
                _ => {}
            }
            let before = this.pending.len();
            let mut chunk = [0u8; READ_CHUNK];
            let mut chunk = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut chunk))?;
            this.pending.extend_from_slice(chunk.filled());
            if this.pending.len() == before {
                // EOF. A partial head goes to hyper as it is (hyper drops the connection).
                this.cleared = this.pending.len();
                if this.cleared == 0 {
                    return Poll::Ready(Ok(()));
                }
                this.phase = Phase::Unchecked;
                continue;
            }
            this.scan();
        }
    }
}

impl<S: AsyncRead + Unpin> CheckedIo<S> {
    /// Reads and drops what the client still sends, up to [`LINGER`] and [`LINGER_BYTES`].
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let linger = self
            .linger
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(LINGER)));
        while self.lingered < LINGER_BYTES {
            let mut scratch = [0u8; 4096];
            let mut scratch = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut scratch) {
                Poll::Ready(Ok(())) if !scratch.filled().is_empty() => {
                    self.lingered += scratch.filled().len();
                }
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return linger.as_mut().poll(cx),
            }
        }
        Poll::Ready(())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for CheckedIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
        if matches!(this.phase, Phase::Refused) {
            ready!(this.poll_linger(cx));
        }
        Poll::Ready(Ok(()))
    }
}

enum Found {
    /// Not all of the head has arrived.
    Incomplete,
    /// The head is this many bytes (blank lines before it included).
    Head(usize),
    Refused(Refusal),
}

/// Finds the end of the head at the start of `buf`: the first empty line after the request line
/// (lines end in CRLF or, as httparse allows, LF; empty lines before a request are skipped, as
/// httparse does). `searched` is how much of `buf` earlier calls looked through, so that a head
/// trickled in byte by byte costs linear time, not quadratic.
fn find_head(buf: &[u8], searched: &mut usize, max: usize) -> Found {
    let start = buf
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(buf.len());
    // An LF in the last two bytes searched was not followed far enough to decide.
    let mut from = searched.saturating_sub(2).max(start);
    while let Some(i) = buf[from..].iter().position(|b| *b == b'\n') {
        let lf = from + i;
        let next = &buf[lf + 1..];
        if next.first() == Some(&b'\n') {
            return within(lf + 2, max, buf);
        }
        if next.starts_with(b"\r\n") {
            return within(lf + 3, max, buf);
        }
        if next.len() < 2 {
            break;
        }
        from = lf + 1;
    }
    *searched = buf.len();
    if buf.len() > max {
        return Found::Refused(too_long(buf, max));
    }
    Found::Incomplete
}

fn within(len: usize, max: usize, buf: &[u8]) -> Found {
    if len > max {
        Found::Refused(too_long(buf, max))
    } else {
        Found::Head(len)
    }
}

/// 414 while the request line itself is over the limit, 431 once the headers are.
fn too_long(buf: &[u8], max: usize) -> Refusal {
    let path = target_of(buf);
    let line_done = buf.iter().take(max).any(|b| *b == b'\n');
    let error = if line_done {
        ApiError::HeadersTooLarge(format!("the request head is larger than {max} bytes"))
    } else {
        ApiError::UriTooLong(format!("the request line is longer than {max} bytes"))
    };
    Refusal { path, error }
}

/// The request target of a head that could not be parsed, as far as it can be read: enough to
/// pick the envelope.
fn target_of(buf: &[u8]) -> String {
    let line = buf
        .split(|b| *b == b'\n')
        .find(|l| !l.is_empty() && *l != b"\r");
    let target = line
        .and_then(|l| l.split(|b| *b == b' ').nth(1))
        .unwrap_or_default();
    let target = &target[..target.len().min(256)];
    String::from_utf8_lossy(target).into_owned()
}

fn bad(path: &str, field: &str, message: &str) -> Refusal {
    Refusal {
        path: path.to_string(),
        error: ApiError::field(field, message),
    }
}

/// Checks a complete head as hyper would parse it (`hyper::proto::h1::role::Server::parse`), and
/// says how its body is framed.
fn check(head: &[u8]) -> Result<Phase, Refusal> {
    let mut headers = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_PARSED_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut req,
        head,
        &mut headers,
    );
    let raw_path = req.path.map(str::to_string);
    let path = raw_path.clone().unwrap_or_else(|| target_of(head));
    match parsed {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(bad(&path, "request line", "the request head is malformed"));
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal {
                path,
                error: ApiError::HeadersTooLarge(format!(
                    "the request has more than {MAX_PARSED_HEADERS} headers; the limit is {}",
                    crate::protect::MAX_HEADERS
                )),
            });
        }
        Err(httparse::Error::Token) if req.method.is_none() => {
            return Err(bad(&path, "method", "is not a valid HTTP method"));
        }
        Err(httparse::Error::Token) => {
            return Err(bad(
                &path,
                "path",
                "holds a byte that is not allowed in a URL (escape it as %XX)",
            ));
        }
        Err(httparse::Error::Version) => {
            return Err(bad(&path, "version", "must be HTTP/1.0 or HTTP/1.1"));
        }
        Err(httparse::Error::HeaderName) => {
            return Err(bad(
                &path,
                "headers",
                "a header name holds a character that is not allowed",
            ));
        }
        Err(httparse::Error::HeaderValue) => {
            return Err(bad(
                &path,
                "headers",
                "a header value holds a control character (such as NUL)",
            ));
        }
        Err(httparse::Error::NewLine | httparse::Error::Status) => {
            return Err(bad(&path, "request line", "the request head is malformed"));
        }
    }
    let target = raw_path.unwrap_or_default();
    if target.len() > MAX_URI_LEN {
        return Err(Refusal {
            path,
            error: ApiError::UriTooLong(format!("the path is longer than {MAX_URI_LEN} bytes")),
        });
    }
    if Method::from_bytes(req.method.unwrap_or_default().as_bytes()).is_err() {
        return Err(bad(&path, "method", "is not a valid HTTP method"));
    }
    let path = match Uri::try_from(target.as_str()) {
        Ok(uri) => uri.path().to_string(),
        Err(_) => return Err(bad(&path, "path", "is not a valid URL")),
    };
    framing(&path, req.version == Some(1), req.headers)
}

/// The body's framing, from `Transfer-Encoding` and `Content-Length`, refusing what hyper
/// refuses, and also both at once (a request-smuggling vector: hyper would take the chunked
/// framing and drop the length; a proxy in front might do the opposite).
fn framing(path: &str, http_11: bool, headers: &[httparse::Header<'_>]) -> Result<Phase, Refusal> {
    let mut length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut chunked = false;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if !http_11 {
                return Err(bad(
                    path,
                    "transfer-encoding",
                    "is not allowed in an HTTP/1.0 request",
                ));
            }
            transfer_encoding = true;
            chunked = ends_in_chunked(h.value);
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let Some(n) = digits(h.value) else {
                return Err(bad(
                    path,
                    "content-length",
                    "must be a non-negative integer",
                ));
            };
            match length {
                Some(prev) if prev != n => {
                    return Err(bad(
                        path,
                        "content-length",
                        "is given more than once, with different values",
                    ));
                }
                _ => length = Some(n),
            }
        }
    }
    if transfer_encoding && length.is_some() {
        return Err(bad(
            path,
            "content-length",
            "a request may not carry both Transfer-Encoding and Content-Length",
        ));
    }
    if transfer_encoding && !chunked {
        return Err(bad(
            path,
            "transfer-encoding",
            "must end with chunked (the only transfer coding this server reads)",
        ));
    }
    if chunked {
        return Ok(Phase::Chunked(Chunked::default()));
    }
    match length {
        // hyper's largest length (`DecodedLength::MAX_LEN`); the body limit refuses far less.
        Some(n) if n > u64::MAX - 2 => Err(Refusal {
            path: path.to_string(),
            error: ApiError::TooLarge {
                field: "content-length".into(),
                message: "is larger than any body this server takes".into(),
            },
        }),
        Some(n) => Ok(Phase::Sized(n)),
        None => Ok(Phase::Head),
    }
}

/// `Content-Length` as hyper reads it: ASCII digits only, no sign, no overflow.
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, b| match b {
        b'0'..=b'9' => n.checked_mul(10)?.checked_add(u64::from(b - b'0')),
        _ => None,
    })
}

/// Whether the last coding in a `Transfer-Encoding` value is `chunked` (hyper's `is_chunked_`).
fn ends_in_chunked(v: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(v) else {
        return false;
    };
    s.rsplit(',')
        .next()
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
}

/// Where a chunked body's framing is (RFC 9112 §7.1), as far as hyper's decoder accepts it.
#[derive(Debug, Default, Clone, Copy)]
enum Chunked {
    /// Reading a chunk size: hex digits seen so far and their value.
    #[default]
    SizeStart,
    Size(u64, u8),
    /// After the size: spaces or a `;` extension, up to CR.
    SizeRest(u64),
    SizeLf(u64),
    Data(u64),
    DataCr,
    DataLf,
    /// After the last chunk: at the start of a trailer line or of the final empty line.
    LineStart,
    TrailerLine,
    TrailerLf,
    EndLf,
}

enum Chunks {
    /// This many bytes belong to the body, and more is to come.
    More(usize),
    /// The body ends after this many bytes.
    Done(usize),
    /// Not a framing hyper accepts: hyper refuses the body and closes the connection.
    Lost,
}

impl Chunked {
    fn advance(&mut self, buf: &[u8]) -> Chunks {
        let mut i = 0;
        while i < buf.len() {
            if let Chunked::Data(left) = *self {
                let n = left.min((buf.len() - i) as u64);
                i += n as usize;
                *self = if n == left {
                    Chunked::DataCr
                } else {
                    Chunked::Data(left - n)
                };
                continue;
            }
            let b = buf[i];
            i += 1;
            *self = match (*self, b) {
                (Chunked::SizeStart, _) => match hex(b) {
                    Some(d) => Chunked::Size(d, 1),
                    None => return Chunks::Lost,
                },
                (Chunked::Size(n, count), _) if hex(b).is_some() => {
                    if count >= 16 {
                        return Chunks::Lost;
                    }
                    Chunked::Size(n * 16 + hex(b).unwrap_or_default(), count + 1)
                }
                (Chunked::Size(n, _) | Chunked::SizeRest(n), b'\r') => Chunked::SizeLf(n),
                (Chunked::Size(..) | Chunked::SizeRest(_), b'\n') => return Chunks::Lost,
                (Chunked::Size(n, _) | Chunked::SizeRest(n), _) => Chunked::SizeRest(n),
                (Chunked::SizeLf(0), b'\n') => Chunked::LineStart,
                (Chunked::SizeLf(n), b'\n') => Chunked::Data(n),
                (Chunked::DataCr, b'\r') => Chunked::DataLf,
                (Chunked::DataLf, b'\n') => Chunked::SizeStart,
                (Chunked::LineStart, b'\r') => Chunked::EndLf,
                (Chunked::LineStart | Chunked::TrailerLine, b'\n') => return Chunks::Lost,
                (Chunked::TrailerLine, b'\r') => Chunked::TrailerLf,
                (Chunked::LineStart | Chunked::TrailerLine, _) => Chunked::TrailerLine,
                (Chunked::TrailerLf, b'\n') => Chunked::LineStart,
                (Chunked::EndLf, b'\n') => return Chunks::Done(i),
                _ => return Chunks::Lost,
            };
        }
        Chunks::More(i)
    }
}

fn hex(b: u8) -> Option<u64> {
    (b as char).to_digit(16).map(u64::from)
}

#[cfg(test)]
mod tests;
