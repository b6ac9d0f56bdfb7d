//! A [`Sink`] that publishes changes to NATS JetStream (feature `nats`): one message per change on the subject
//! named by the entity's topic, each with `Nats-Msg-Id` set to its
//! [`idempotency_key`](OutboxMessage::idempotency_key), so the stream's duplicate window drops a message the
//! relay publishes again (after a crash between publish and mark). A batch is sent pipelined and succeeds only
//! once JetStream has acknowledged every message (stored), in order.
//!
//! Headers: `Capacitor-Entity`, `Capacitor-Key` (a PII key's keyed token, never the key), `Capacitor-Version`,
//! `Capacitor-Op`, `Capacitor-Seq`. The body is the value's encoding with its encrypted fields sealed (empty
//! for a removal).

use super::relay::{OutboxMessage, Sink};
use crate::error::BoxError;
use async_nats::jetstream::{self, context::PublishErrorKind, message::PublishMessage};
use std::time::Duration;

/// Publishes outbox changes to NATS JetStream.
#[derive(Clone)]
pub struct NatsSink {
    jetstream: jetstream::Context,
}

impl NatsSink {
    /// Connects to the NATS server `url` names (`nats://host:port`).
    pub async fn connect(url: &str) -> Result<Self, crate::Error> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_secs(5)))
            .retry_on_initial_connect()
            .connect(url)
            .await
            .map_err(|e| crate::Error::Config(format!("nats: {e}")))?;
        Ok(NatsSink {
            jetstream: jetstream::new(client),
        })
    }

    /// Creates the stream `name` capturing `subjects` (the topics the relay publishes to) if it does not
    /// exist, with `duplicate_window`: a message published again within it under the same `Nats-Msg-Id` is
    /// dropped. Streams can also be made by the operator (`nats stream add`); the window must then cover the
    /// relay's lease, the longest a crashed relay's rows wait before they are published again.
    pub async fn ensure_stream(
        &self,
        name: &str,
        subjects: Vec<String>,
        duplicate_window: Duration,
    ) -> Result<(), crate::Error> {
        self.jetstream
            .get_or_create_stream(jetstream::stream::Config {
                name: name.to_owned(),
                subjects,
                duplicate_window,
                ..Default::default()
            })
            .await
            .map(drop)
            .map_err(|e| crate::Error::Config(format!("nats: stream `{name}`: {e}")))
    }
}

impl Sink for NatsSink {
    async fn publish(&self, batch: &[OutboxMessage]) -> Result<(), BoxError> {
        let mut acks = Vec::with_capacity(batch.len());
        for m in batch {
            let message = PublishMessage::build()
                .payload(m.payload.clone().unwrap_or_default().into())
                .message_id(m.idempotency_key())
                .header("Capacitor-Entity", m.entity.as_str())
                .header("Capacitor-Key", m.key.as_str())
                .header("Capacitor-Version", m.version.to_string().as_str())
                .header("Capacitor-Op", m.op.as_str())
                .header("Capacitor-Seq", m.seq.to_string().as_str());
            let ack = self
                .jetstream
                .send_publish(m.topic.to_owned(), message)
                .await
                .map_err(|e| failure(e.kind()))?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(|e| failure(e.kind()))?;
        }
        Ok(())
    }
}

/// A publish failure by kind only: the client's message can quote the subject and headers.
fn failure(kind: PublishErrorKind) -> BoxError {
    format!("nats jetstream publish failed: {kind:?}").into()
}
