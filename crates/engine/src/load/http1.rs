//! HTTP/1.1 exchanges for the engine's one job: the same request, sent again and again on kept-alive
//! connections, its answer measured and its body counted but never kept.
//!
//! Why by hand, over `httparse` (which parses every head here): hyper's client connection, driven directly,
//! still builds a request and a header map per exchange and passes each through channels between the
//! caller and the connection's task. Measured on the bench's closed loop (32 connections, 8 s, one core):
//! 2.7 s of user CPU for 850,000 requests, where wrk spent 0.7 s for 970,000, though both made one write
//! and one read per request; this module brought it to 1.2 s (docs/benchmarks.md). Here
//! the request is serialised once per attack, the answer is parsed in place in a buffer the connection
//! keeps, and nothing is allocated per request. HTTP/2 stays with hyper ([`super::transport`]).
//!
//! What it speaks: status lines and heads of any size up to [`MAX_HEAD`]; 1xx interim answers skipped;
//! bodies framed by Content-Length, by chunked transfer coding (trailers read and dropped), or by the
//! connection's close; no body for HEAD, 204 and 304. The connection ends after an answer that says
//! `Connection: close` (or HTTP/1.0 without keep-alive), a 101, an answer framed both ways, or bytes beyond
//! the answer's framing; and a request that asked for close. A connection idle for a while is checked before
//! reuse, so a server's idle close (or its 408) is not taken for the next request's answer; only then is a
//! request sent again on a new connection, never once it may have reached the server.

use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Buf as _, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};

use super::request::RequestSpec;

/// The largest answer head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
const HEADERS: usize = 100;
const READ_SIZE: usize = 16 * 1024;

/// A request serialised once, with what reading its answer needs to know about it.
#[derive(Debug, Clone)]
pub struct Prepared {
    bytes: bytes::Bytes,
    head: bool,
    /// The request asks the server to close the connection after its answer.
    close: bool,
}

impl Prepared {
    /// `path_and_query` in origin form; `headers` with Host. Content-Length is always this request's own:
    /// one the caller set is replaced, and Transfer-Encoding is dropped (the body is sent whole).
    pub fn new(spec: &RequestSpec, path_and_query: &str, headers: &http::HeaderMap) -> Self {
        let mut out = Vec::with_capacity(256 + spec.body.len());
        let close = headers
            .get_all(http::header::CONNECTION)
            .iter()
            .any(|value| has_token(value.as_bytes(), b"close"));
        out.extend_from_slice(spec.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(path_and_query.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in headers {
            if name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING {
                continue;
            }
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let method = &spec.method;
        let expects_body = [http::Method::POST, http::Method::PUT, http::Method::PATCH].contains(method);
        if !spec.body.is_empty() || expects_body {
            out.extend_from_slice(format!("content-length: {}\r\n", spec.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&spec.body);
        Self {
            bytes: out.into(),
            head: method == http::Method::HEAD,
            close,
        }
    }
}

/// How an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The connection turned out closed before the request was written (the server ended an idle keep-alive
    /// connection, or sent something unasked while it was idle), so the request may go again on a new one.
    /// A close after the request was written is `Io`: the server may have acted on it, and it is not retried.
    Closed,
    /// The answer's head was malformed or too large.
    Protocol,
    /// The head arrived but the body could not be read to its end.
    Body,
    /// Writing or reading failed otherwise, before the head was in.
    Io,
}

/// An answer, measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// Body bytes, after removing chunked framing.
    pub bytes: u64,
}

/// One HTTP/1.1 connection.
#[derive(Debug)]
pub struct Http1<S> {
    io: S,
    buffer: BytesMut,
    open: bool,
    /// When the last exchange ended.
    idle_since: Instant,
}

/// A connection idle this long is checked for a close (or an unasked answer such as 408) before it is used.
/// Back-to-back exchanges skip the check, which costs a system call.
const IDLE_CHECK: Duration = Duration::from_millis(250);

impl<S: AsyncRead + AsyncWrite + Unpin> Http1<S> {
    pub fn new(io: S) -> Self {
        Self {
            io,
            buffer: BytesMut::with_capacity(READ_SIZE),
            open: true,
            idle_since: Instant::now(),
        }
    }

    /// False once the server said it would close, closed, or an exchange failed.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Writes the request and reads its whole answer.
    pub async fn exchange(&mut self, request: &Prepared) -> Result<Answer, Failure> {
        // Closed unless this exchange ends with the connection ready for the next one.
        let was_open = std::mem::replace(&mut self.open, false);
        if !was_open || (self.idle_since.elapsed() >= IDLE_CHECK && self.has_news()) {
            return Err(Failure::Closed);
        }
        if self.io.write_all(&request.bytes).await.is_err() || self.io.flush().await.is_err() {
            return Err(Failure::Closed);
        }
        let (status, framing, keep_alive) = loop {
            let head = self.read_head().await?;
            // Interim answers (100 Continue, 103 Early Hints) precede the real one.
            if (100..200).contains(&head.0) && head.0 != 101 {
                continue;
            }
            break head;
        };
        if status == 101 {
            // Switching protocols, which only a caller's own Upgrade header asks for: the connection no
            // longer speaks HTTP/1.1, so it ends here.
            return Ok(Answer { status, bytes: 0 });
        }
        let no_body = request.head || status == 204 || status == 304;
        let bytes = match (no_body, framing) {
            (true, _) => 0,
            (false, Framing::Length(length)) => self.skip(length).await?,
            (false, Framing::Chunked) => self.chunked().await?,
            (false, Framing::Close) => {
                let bytes = self.read_until_closed().await?;
                return Ok(Answer { status, bytes });
            }
        };
        // Bytes beyond the answer's framing were never asked for (no request is pipelined): whatever they
        // are, they must not be read as the next request's answer.
        self.open = keep_alive && !request.close && self.buffer.is_empty();
        self.idle_since = Instant::now();
        Ok(Answer { status, bytes })
    }

    /// Whether the idle connection has something to say: the server's close, or bytes nobody asked for.
    /// One read that does not wait; a connection with nothing to read answers Pending.
    fn has_news(&mut self) -> bool {
        let mut context = Context::from_waker(Waker::noop());
        let mut byte = [0u8; 1];
        let mut read = ReadBuf::new(&mut byte);
        !matches!(Pin::new(&mut self.io).poll_read(&mut context, &mut read), Poll::Pending)
    }

    /// Reads more into the buffer; an error when the connection ended.
    async fn fill(&mut self) -> Result<(), ()> {
        if self.buffer.capacity() - self.buffer.len() < 1024 {
            self.buffer.reserve(READ_SIZE);
        }
        match self.io.read_buf(&mut self.buffer).await {
            Ok(0) | Err(_) => Err(()),
            Ok(_) => Ok(()),
        }
    }

    /// The next head: status, body framing, and whether the connection stays open after this answer.
    async fn read_head(&mut self) -> Result<(u16, Framing, bool), Failure> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buffer) {
                Ok(httparse::Status::Complete(length)) => {
                    let head = interpret(&response)?;
                    self.buffer.advance(length);
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) if self.buffer.len() < MAX_HEAD => {}
                Ok(httparse::Status::Partial) | Err(_) => return Err(Failure::Protocol),
            }
            self.fill().await.map_err(|()| Failure::Io)?;
        }
    }

    /// Consumes `length` body bytes.
    async fn skip(&mut self, length: u64) -> Result<u64, Failure> {
        let mut left = length;
        loop {
            let take = left.min(self.buffer.len() as u64);
            self.buffer.advance(take as usize);
            left -= take;
            if left == 0 {
                return Ok(length);
            }
            self.fill().await.map_err(|()| Failure::Body)?;
        }
    }

    /// Consumes a chunked body and its trailers; answers the data bytes.
    async fn chunked(&mut self) -> Result<u64, Failure> {
        let mut bytes = 0;
        loop {
            let size = loop {
                // httparse reads a line without digits as size 0, the last chunk; it is malformed instead.
                if self.buffer.first().is_some_and(|b| !b.is_ascii_hexdigit()) {
                    return Err(Failure::Body);
                }
                match httparse::parse_chunk_size(&self.buffer) {
                    Ok(httparse::Status::Complete((length, size))) => {
                        self.buffer.advance(length);
                        break size;
                    }
                    Ok(httparse::Status::Partial) if self.buffer.len() < MAX_HEAD => {
                        self.fill().await.map_err(|()| Failure::Body)?;
                    }
                    _ => return Err(Failure::Body),
                }
            };
            if size == 0 {
                return self.trailers().await.map(|()| bytes);
            }
            self.skip(size).await?;
            bytes += size;
            self.line().await?.then_some(()).ok_or(Failure::Body)?;
        }
    }

    /// Trailer lines up to the empty line that ends the body.
    async fn trailers(&mut self) -> Result<(), Failure> {
        while !self.line().await? {}
        Ok(())
    }

    /// Consumes one line; true when it was empty.
    async fn line(&mut self) -> Result<bool, Failure> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                self.buffer.advance(end + 2);
                return Ok(end == 0);
            }
            if self.buffer.len() >= MAX_HEAD {
                return Err(Failure::Body);
            }
            self.fill().await.map_err(|()| Failure::Body)?;
        }
    }

    /// A body that ends with the connection.
    async fn read_until_closed(&mut self) -> Result<u64, Failure> {
        let mut bytes = self.buffer.len() as u64;
        self.buffer.clear();
        loop {
            match self.io.read_buf(&mut self.buffer).await {
                Ok(0) => return Ok(bytes),
                Ok(n) => {
                    bytes += n as u64;
                    self.buffer.clear();
                }
                Err(_) => return Err(Failure::Body),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    Close,
}

/// Status, framing and keep-alive (as the headers say; a body that ends with the connection ends it anyway)
/// from a parsed head.
fn interpret(response: &httparse::Response<'_, '_>) -> Result<(u16, Framing, bool), Failure> {
    let status = response.code.ok_or(Failure::Protocol)?;
    let http11 = response.version == Some(1);
    let (mut close, mut keep_alive) = (false, false);
    let mut length: Option<u64> = None;
    let mut transfer_coding: Option<bool> = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = header.value.trim_ascii();
            if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                return Err(Failure::Protocol);
            }
            let value = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(Failure::Protocol)?;
            if length.is_some_and(|seen| seen != value) {
                return Err(Failure::Protocol);
            }
            length = Some(value);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked only when it is the last coding applied; any other ends with the connection.
            let last = header
                .value
                .split(|b| *b == b',')
                .map(<[u8]>::trim_ascii)
                .rfind(|coding| !coding.is_empty())
                .unwrap_or_default();
            transfer_coding = Some(last.eq_ignore_ascii_case(b"chunked"));
        } else if header.name.eq_ignore_ascii_case("connection") {
            close |= has_token(header.value, b"close");
            keep_alive |= has_token(header.value, b"keep-alive");
        }
    }
    let framing = match (transfer_coding, length) {
        (Some(true), _) => Framing::Chunked,
        (Some(false), _) => Framing::Close,
        (None, Some(length)) => Framing::Length(length),
        (None, None) => Framing::Close,
    };
    // Close wins over keep-alive; HTTP/1.0 keeps the connection only when asked; and an answer framed both
    // ways (Transfer-Encoding with Content-Length, or chunked in HTTP/1.0) is not trusted with the next one
    // (RFC 9112, 6.3).
    let ambiguous = transfer_coding.is_some() && (length.is_some() || !http11);
    let reusable = !close && (http11 || keep_alive) && !ambiguous;
    Ok((status, framing, reusable))
}

/// Whether a comma-separated header value lists `token` (any case).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::io::DuplexStream;

    fn get() -> Prepared {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::HOST, http::HeaderValue::from_static("example.com"));
        Prepared::new(&RequestSpec::default(), "/hello?x=1", &headers)
    }

    /// A client over an in-memory pipe, and the server's end.
    fn pair() -> (Http1<DuplexStream>, DuplexStream) {
        let (client, server) = tokio::io::duplex(64 * 1024);
        (Http1::new(client), server)
    }

    /// Reads one request's head (and nothing else) from the server's end.
    async fn request(server: &mut DuplexStream) -> String {
        let mut seen = Vec::new();
        while !seen.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            server.read_exact(&mut byte).await.unwrap_or_else(|e| panic!("{e}"));
            seen.push(byte[0]);
        }
        String::from_utf8(seen).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Reads one request and writes `answer`.
    async fn answer_once(server: &mut DuplexStream, answer: &[u8]) {
        request(server).await;
        server.write_all(answer).await.unwrap_or_else(|e| panic!("{e}"));
    }

    async fn answer_with(chunks: &[&[u8]], close: bool) -> (Result<Answer, Failure>, bool, String) {
        let (mut client, mut server) = pair();
        let prepared = get();
        let chunks: Vec<Vec<u8>> = chunks.iter().map(|c| c.to_vec()).collect();
        let serve = async move {
            let head = request(&mut server).await;
            for chunk in chunks {
                server.write_all(&chunk).await.unwrap_or_else(|e| panic!("{e}"));
                tokio::task::yield_now().await;
            }
            // Kept open until the exchange is over, unless the test closes it.
            let kept = (!close).then_some(server);
            (head, kept)
        };
        let (result, (head, _kept)) = tokio::join!(client.exchange(&prepared), serve);
        (result, client.is_open(), head)
    }

    #[tokio::test]
    async fn the_request_is_written_once_in_origin_form_with_host() {
        let (_, _, head) = answer_with(&[b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"], false).await;
        assert_eq!(head, "GET /hello?x=1 HTTP/1.1\r\nhost: example.com\r\n\r\n");
    }

    #[tokio::test]
    async fn a_body_gets_its_own_content_length() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from_static("999"));
        let spec = RequestSpec {
            method: http::Method::POST,
            headers: http::HeaderMap::new(),
            body: bytes::Bytes::from_static(b"{\"a\":1}"),
        };
        let prepared = Prepared::new(&spec, "/", &headers);
        assert_eq!(
            &prepared.bytes[..],
            b"POST / HTTP/1.1\r\ncontent-length: 7\r\n\r\n{\"a\":1}"
        );
        let empty = Prepared::new(
            &RequestSpec {
                method: http::Method::POST,
                ..RequestSpec::default()
            },
            "/",
            &http::HeaderMap::new(),
        );
        assert_eq!(&empty.bytes[..], b"POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n");
    }

    #[tokio::test]
    async fn content_length_bodies_split_across_reads_are_counted_and_the_connection_kept() {
        let (result, open, _) = answer_with(
            &[b"HTTP/1.1 200 OK\r\nContent-Le", b"ngth: 11\r\n\r\nhello", b" world"],
            false,
        )
        .await;
        assert_eq!(result, Ok(Answer { status: 200, bytes: 11 }));
        assert!(open);
    }

    #[tokio::test]
    async fn chunked_bodies_with_extensions_and_trailers_count_their_data() {
        let (result, open, _) = answer_with(
            &[
                b"HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;name=x\r\nhel",
                b"lo\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n",
            ],
            false,
        )
        .await;
        assert_eq!(result, Ok(Answer { status: 201, bytes: 11 }));
        assert!(open);
    }

    #[tokio::test]
    async fn a_body_without_framing_ends_with_the_connection() {
        let (result, open, _) = answer_with(&[b"HTTP/1.1 200 OK\r\n\r\nuntil ", b"the end"], true).await;
        assert_eq!(result, Ok(Answer { status: 200, bytes: 13 }));
        assert!(!open);
    }

    #[tokio::test]
    async fn connection_close_and_http10_end_the_connection_after_the_answer() {
        let (result, open, _) = answer_with(
            &[b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"],
            false,
        )
        .await;
        assert_eq!(result, Ok(Answer { status: 200, bytes: 2 }));
        assert!(!open);
        let (result, open, _) = answer_with(&[b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"], false).await;
        assert_eq!(result, Ok(Answer { status: 200, bytes: 2 }));
        assert!(!open);
        let (_, open, _) = answer_with(
            &[b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"],
            false,
        )
        .await;
        assert!(open);
    }

    #[tokio::test]
    async fn interim_answers_are_skipped_and_204_has_no_body() {
        let (result, open, _) = answer_with(
            &[b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"],
            false,
        )
        .await;
        assert_eq!(result, Ok(Answer { status: 204, bytes: 0 }));
        assert!(open);
    }

    #[tokio::test]
    async fn head_requests_read_no_body_whatever_the_length_says() {
        let (mut client, mut server) = pair();
        let prepared = Prepared::new(
            &RequestSpec {
                method: http::Method::HEAD,
                ..RequestSpec::default()
            },
            "/",
            &http::HeaderMap::new(),
        );
        let serve = async {
            answer_once(&mut server, b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n").await;
            server
        };
        let (result, _server) = tokio::join!(client.exchange(&prepared), serve);
        assert_eq!(result, Ok(Answer { status: 200, bytes: 0 }));
    }

    #[tokio::test]
    async fn a_close_after_the_request_is_an_io_failure_and_a_cut_body_a_body_failure() {
        // The server may have acted on the request: it is not sent again.
        let (result, open, _) = answer_with(&[], true).await;
        assert_eq!(result, Err(Failure::Io));
        assert!(!open);
        let (result, _, _) = answer_with(&[b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"], true).await;
        assert_eq!(result, Err(Failure::Body));
        let (result, _, _) = answer_with(&[b"HTTP/1.1 200 OK\r\nContent-Le"], true).await;
        assert_eq!(result, Err(Failure::Io));
    }

    #[tokio::test]
    async fn malformed_or_conflicting_heads_are_protocol_failures() {
        for answer in [
            &b"HTTP/1.1 two hundred\r\n\r\n"[..],
            &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx"[..],
            &b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"[..],
        ] {
            let (result, _, _) = answer_with(&[answer], false).await;
            assert_eq!(result, Err(Failure::Protocol), "{}", String::from_utf8_lossy(answer));
        }
    }

    #[tokio::test]
    async fn two_exchanges_share_the_connection() {
        let (mut client, mut server) = pair();
        let prepared = get();
        for body in ["first", "second!"] {
            let serve = async {
                let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                answer_once(&mut server, answer.as_bytes()).await;
            };
            let (result, ()) = tokio::join!(client.exchange(&prepared), serve);
            assert_eq!(
                result,
                Ok(Answer {
                    status: 200,
                    bytes: body.len() as u64
                })
            );
            assert!(client.is_open());
        }
    }

    /// A client that has had one answer and then sat idle past the check, with the server's end.
    async fn idle_after_one_answer() -> (Http1<DuplexStream>, DuplexStream) {
        let (mut client, mut server) = pair();
        let serve = async {
            answer_once(&mut server, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
        };
        let prepared = get();
        let (result, ()) = tokio::join!(client.exchange(&prepared), serve);
        assert_eq!(result, Ok(Answer { status: 200, bytes: 0 }));
        client.idle_since -= IDLE_CHECK;
        (client, server)
    }

    #[tokio::test]
    async fn an_idle_connection_the_server_closed_or_spoke_on_is_not_written_to() {
        let (mut client, server) = idle_after_one_answer().await;
        drop(server);
        assert_eq!(client.exchange(&get()).await, Err(Failure::Closed));
        assert!(!client.is_open());

        // A 408 sent on the idle connection is not the next request's answer.
        let (mut client, mut server) = idle_after_one_answer().await;
        server
            .write_all(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(client.exchange(&get()).await, Err(Failure::Closed));

        // Still open and quiet: used as usual.
        let (mut client, mut server) = idle_after_one_answer().await;
        let serve = async {
            answer_once(&mut server, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
        };
        let prepared = get();
        let (result, ()) = tokio::join!(client.exchange(&prepared), serve);
        assert_eq!(result, Ok(Answer { status: 200, bytes: 2 }));
    }

    #[tokio::test]
    async fn connections_that_cannot_be_trusted_with_another_request_end() {
        for answer in [
            // switched protocols
            &b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"[..],
            // bytes beyond the framing
            &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"[..],
            // close wins over keep-alive
            &b"HTTP/1.1 200 OK\r\nConnection: close, keep-alive\r\nContent-Length: 2\r\n\r\nok"[..],
            // framed both ways
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n"[..],
        ] {
            let (result, open, _) = answer_with(&[answer], false).await;
            assert!(result.is_ok(), "{result:?}: {}", String::from_utf8_lossy(answer));
            assert!(!open, "{}", String::from_utf8_lossy(answer));
        }
    }

    #[tokio::test]
    async fn a_request_that_asks_for_close_ends_its_connection() {
        let (mut client, mut server) = pair();
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        let prepared = Prepared::new(&RequestSpec::default(), "/", &headers);
        let serve = async {
            answer_once(&mut server, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
        };
        let (result, ()) = tokio::join!(client.exchange(&prepared), serve);
        assert!(result.is_ok());
        assert!(!client.is_open());
    }

    #[tokio::test]
    async fn odd_framing_is_read_strictly() {
        // A trailing empty list element still means chunked.
        let (result, open, _) = answer_with(
            &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n2\r\nok\r\n0\r\n\r\n"],
            false,
        )
        .await;
        assert_eq!(result, Ok(Answer { status: 200, bytes: 2 }));
        assert!(open);
        // A chunk-size line without digits is malformed, not the last chunk.
        let (result, _, _) = answer_with(
            &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n\r\n0\r\n\r\n"],
            false,
        )
        .await;
        assert_eq!(result, Err(Failure::Body));
        // Content-Length is digits only.
        let (result, _, _) = answer_with(&[b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok"], false).await;
        assert_eq!(result, Err(Failure::Protocol));
    }
}
