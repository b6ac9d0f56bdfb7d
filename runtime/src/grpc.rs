//! gRPC with tonic (feature `tonic`): every request a service receives is checked with its generated
//! [`Validate`] before the handler runs, as protovalidate's interceptors do for Go and Java.
//!
//! A tonic interceptor sees only metadata, and a tower layer only encoded bytes, so the check sits where the
//! message is decoded: [`ValidatingCodec`] is prost's codec plus the check. Name it in `build.rs` and every
//! method of the service validates, with no glue in the handlers:
//!
//! ```text
//! tonic_prost_build::configure()
//!     .codec_path("::capacitor::grpc::ValidatingCodec")
//!     .extern_path(".shop.v1", "crate::shop::v1")        // the request/response types capgen generated
//!     .compile_fds(descriptor_set)?;
//! ```
//!
//! An invalid request never reaches the handler: the caller gets `INVALID_ARGUMENT` with a
//! `google.rpc.BadRequest` detail holding one field violation per broken rule — the field's path and what was
//! expected, never the value (it may be personal data). A client built with the same codec checks the responses
//! it decodes the same way.

use crate::Validate;
use crate::validate::Violations;
use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder};
use tonic_types::{ErrorDetails, StatusExt};

/// prost's tonic codec, validating each decoded message (see the [module docs](self)).
#[derive(Debug)]
pub struct ValidatingCodec<T, U> {
    prost: ProstCodec<T, U>,
}

impl<T, U> Default for ValidatingCodec<T, U> {
    fn default() -> Self {
        ValidatingCodec {
            prost: ProstCodec::default(),
        }
    }
}

impl<T, U> Codec for ValidatingCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Validate + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = <ProstCodec<T, U> as Codec>::Encoder;
    type Decoder = ValidatingDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.prost.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        ValidatingDecoder {
            prost: self.prost.decoder(),
        }
    }
}

/// The decoding half of [`ValidatingCodec`].
#[derive(Debug)]
pub struct ValidatingDecoder<U> {
    prost: ProstDecoder<U>,
}

impl<U> Decoder for ValidatingDecoder<U>
where
    U: Message + Default + Validate + Send + 'static,
{
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let message = self.prost.decode(buf)?;
        if let Some(message) = &message {
            message
                .validate()
                .map_err(|violations| invalid_argument(&violations))?;
        }
        Ok(message)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.prost.buffer_settings()
    }
}

/// `INVALID_ARGUMENT` with a `google.rpc.BadRequest` detail: per violation, the field path and the
/// expectation with its rule id (`value must be a valid email address [string.email]`). Violations name fields
/// and rules only, never values, so the status is safe to return and to log.
pub fn invalid_argument(violations: &Violations) -> Status {
    let mut details = ErrorDetails::new();
    for violation in violations.iter() {
        details.add_bad_request_violation(
            violation.field.to_string(),
            format!("{} [{}]", violation.message, violation.rule_id),
        );
    }
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        format!("invalid request: {} rule(s) broken", violations.len()),
        details,
    )
}
