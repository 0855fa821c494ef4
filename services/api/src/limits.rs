//! The largest request message a server accepts, enforced on the wire for
//! every service of a server (health and reflection included) by one layer
//! that [`crate::server::builder`] installs: a new service cannot forget it.
//!
//! tonic's own limit answers `OUT_OF_RANGE` (and only at 4 MiB); gRPC says a
//! message over the limit is `RESOURCE_EXHAUSTED`. The layer reads each
//! message's 5-byte gRPC prefix as the body arrives and fails the body with
//! that status as soon as a prefix announces more than [`MAX_REQUEST_BYTES`],
//! before the message is buffered.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::Status;
use tonic::body::Body;

/// The largest request message, in bytes (1 MiB). The largest legitimate
/// command is a registration with its capped links or a submission with its
/// longest description: a few tens of kilobytes. A query request is smaller
/// still. So 1 MiB leaves room for growth while a single call can no longer
/// make a server buffer tonic's default of 4 MiB.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Length of the gRPC message prefix: a compression flag and a big-endian
/// `u32` length.
const PREFIX_LEN: usize = 5;

/// `RESOURCE_EXHAUSTED` for a message of `len` bytes, naming the limit.
pub fn too_large(len: usize, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "the request message is {len} bytes; the limit is {limit} bytes"
    ))
}

/// Bounds every request message of the services it wraps to
/// [`MAX_REQUEST_BYTES`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageLimitLayer;

impl<S> tower::Layer<S> for MessageLimitLayer {
    type Service = MessageLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MessageLimit { inner }
    }
}

/// The service [`MessageLimitLayer`] wraps around `S`.
#[derive(Debug, Clone)]
pub struct MessageLimit<S> {
    inner: S,
}

impl<S> tower::Service<http::Request<Body>> for MessageLimit<S>
where
    S: tower::Service<http::Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        self.inner
            .call(request.map(|body| Body::new(LimitedBody::new(body, MAX_REQUEST_BYTES))))
    }
}

/// A request body that fails with [`too_large`] once a message prefix
/// announces more than `limit` bytes. tonic hands a body error that is a
/// `Status` to the caller as it is.
#[derive(Debug)]
struct LimitedBody {
    inner: Body,
    limit: usize,
    /// The prefix of the next message, as far as it has arrived.
    prefix: [u8; PREFIX_LEN],
    /// How much of `prefix` has arrived.
    prefix_read: usize,
    /// Bytes of the current message still to come.
    message_left: usize,
}

impl LimitedBody {
    fn new(inner: Body, limit: usize) -> Self {
        Self {
            inner,
            limit,
            prefix: [0; PREFIX_LEN],
            prefix_read: 0,
            message_left: 0,
        }
    }

    /// Follows the message boundaries through `data`; `Err` at the first
    /// prefix over the limit.
    fn scan(&mut self, mut data: &[u8]) -> Result<(), Status> {
        while !data.is_empty() {
            if self.message_left > 0 {
                let skipped = self.message_left.min(data.len());
                self.message_left -= skipped;
                data = &data[skipped..];
                continue;
            }
            let taken = (PREFIX_LEN - self.prefix_read).min(data.len());
            self.prefix[self.prefix_read..self.prefix_read + taken].copy_from_slice(&data[..taken]);
            self.prefix_read += taken;
            data = &data[taken..];
            if self.prefix_read == PREFIX_LEN {
                self.prefix_read = 0;
                let [_, a, b, c, d] = self.prefix;
                let len = u32::from_be_bytes([a, b, c, d]) as usize;
                if len > self.limit {
                    return Err(too_large(len, self.limit));
                }
                self.message_left = len;
            }
        }
        Ok(())
    }
}

impl HttpBody for LimitedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
            && let Err(status) = self.scan(data)
        {
            return Poll::Ready(Some(Err(status)));
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};
    use http_body_util::BodyExt;
    use tonic::Code;

    use super::*;

    /// A body of `chunks`, each its own data frame.
    fn body(chunks: Vec<Vec<u8>>) -> Body {
        let frames = chunks
            .into_iter()
            .map(|c| Ok::<_, Status>(Frame::data(Bytes::from(c))));
        Body::new(http_body_util::StreamBody::new(tokio_stream::iter(frames)))
    }

    fn prefix(len: u32) -> Vec<u8> {
        let mut buf = BytesMut::new();
        buf.put_u8(0);
        buf.put_u32(len);
        buf.to_vec()
    }

    /// Everything the limited body yields, or its error.
    async fn read(chunks: Vec<Vec<u8>>, limit: usize) -> Result<Vec<u8>, Status> {
        let limited = LimitedBody::new(body(chunks), limit);
        Ok(limited.collect().await?.to_bytes().to_vec())
    }

    #[tokio::test]
    async fn messages_within_the_limit_pass_unchanged() {
        let mut first = prefix(3);
        first.extend_from_slice(b"abc");
        // The second message's prefix split across frames.
        let mut second = prefix(4);
        let tail = second.split_off(2);
        let mut rest = tail;
        rest.extend_from_slice(b"wxyz");
        let sent = vec![first, second, rest];
        let expected: Vec<u8> = sent.concat();
        assert_eq!(read(sent, 4).await.unwrap(), expected);
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_resource_exhausted_naming_it() {
        let mut small = prefix(2);
        small.extend_from_slice(b"ok");
        let status = read(vec![small, prefix(5), b"12345".to_vec()], 4)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert_eq!(
            status.message(),
            "the request message is 5 bytes; the limit is 4 bytes"
        );
    }
}
