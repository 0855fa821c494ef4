//! The codec every generated server decodes its requests with: tonic-prost's,
//! except that a body which is not the RPC's message is `INVALID_ARGUMENT`
//! (the caller sent it) instead of tonic-prost's `INTERNAL`. Encoding is
//! tonic-prost's own encoder, so the bytes on the wire are unchanged.

use prost::{Message, Name};
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// [`ProstCodec`] whose decode errors are the caller's: `INVALID_ARGUMENT`
/// naming the message the body should have been. `build.rs` sets it as the
/// codec of every generated server, so a new service has it too.
#[derive(Debug, Clone)]
pub struct RequestCodec<T, U>(ProstCodec<T, U>);

impl<T, U> Default for RequestCodec<T, U> {
    fn default() -> Self {
        Self(ProstCodec::default())
    }
}

impl<T, U> Codec for RequestCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Name + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = RequestDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.0.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestDecoder(self.0.decoder())
    }
}

/// [`ProstDecoder`] with decode errors mapped to `INVALID_ARGUMENT`.
#[derive(Debug, Clone)]
pub struct RequestDecoder<U>(ProstDecoder<U>);

impl<U: Message + Name + Default> Decoder for RequestDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0
            .decode(buf)
            .map_err(|status| not_a_valid::<U>(&status))
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

/// `INVALID_ARGUMENT` for a body that is not a `U`, with prost's reason (a
/// wire type or field path, never the body's bytes), bounded in length.
fn not_a_valid<U: Name>(decode_error: &Status) -> Status {
    Status::invalid_argument(crate::status::bounded(format!(
        "the request body is not a valid {} ({})",
        U::full_name(),
        decode_error.message()
    )))
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};
    use sy_domain::pb;
    use tonic::Code;

    use super::*;

    /// What a server decodes from `body`, through tonic's own decode path
    /// (a request stream of one framed message).
    async fn decode(body: &[u8]) -> Result<Option<pb::SubmitRequestCommand>, Status> {
        let mut codec = RequestCodec::<pb::CommandResult, pb::SubmitRequestCommand>::default();
        let mut framed = BytesMut::new();
        framed.put_u8(0);
        framed.put_u32(u32::try_from(body.len()).unwrap());
        framed.put_slice(body);
        let mut streaming = tonic::codec::Streaming::new_request(
            codec.decoder(),
            http_body_util::Full::new(framed.freeze()),
            None,
            None,
        );
        streaming.message().await
    }

    #[tokio::test]
    async fn an_undecodable_body_is_invalid_argument_naming_the_message() {
        // Field 1 with wire type 7, which does not exist; then a
        // length-delimited field longer than the body.
        for body in [&[0x0f_u8, 0x01][..], &[0x12, 0x7f, b'a']] {
            let status = decode(body).await.unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
            assert!(
                status.message().starts_with(
                    "the request body is not a valid shuangyong.v1.SubmitRequestCommand"
                ),
                "{}",
                status.message()
            );
        }
    }

    #[tokio::test]
    async fn a_valid_body_decodes() {
        let sent = pb::SubmitRequestCommand {
            title: "heating broken".into(),
            ..Default::default()
        };
        let got = decode(&sent.encode_to_vec()).await.unwrap().unwrap();
        assert_eq!(got, sent);
    }

    /// Replies are encoded by tonic-prost's own encoder (the same type, so
    /// the same bytes on the wire).
    #[test]
    fn encoding_is_tonic_prosts() {
        let mut ours = RequestCodec::<pb::CommandResult, pb::SubmitRequestCommand>::default();
        let _: ProstEncoder<pb::CommandResult> = ours.encoder();
    }
}
