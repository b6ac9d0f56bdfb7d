//! A [`Sink`] that appends changes to Redis Streams (feature `redis`): one `XADD` per change to the stream named
//! by the entity's topic, in order, pipelined per batch.
//!
//! Each entry's fields: `id` (the [`idempotency_key`](OutboxMessage::idempotency_key)), `entity`, `key` (a PII
//! key's keyed token, never the key), `version`, `op`, `seq`, `ts_us`, and `payload` (the value's encoding with
//! its encrypted fields sealed; absent for a removal). Consumers read with a consumer group (`XREADGROUP`)
//! and dedupe on `id`: the relay publishes at least once, so an entry can appear twice after a relay crash
//! between publish and mark.

use super::relay::{OutboxMessage, Sink};
use crate::error::BoxError;
use redis::aio::ConnectionManager;
use std::time::Duration;

/// Appends outbox changes to Redis Streams on one Redis server.
#[derive(Clone)]
pub struct RedisStreamSink {
    connection: ConnectionManager,
    max_len: Option<usize>,
    timeout: Duration,
}

impl RedisStreamSink {
    /// Connects to the Redis server `url` names (`redis://host:port/`). Streams grow without bound unless
    /// [`max_len`](Self::max_len) is set.
    pub async fn connect(url: &str) -> Result<Self, crate::Error> {
        let config_error = |e: redis::RedisError| crate::Error::Config(format!("redis: {e}"));
        let client = redis::Client::open(url).map_err(config_error)?;
        let timeout = Duration::from_secs(5);
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(timeout))
            .set_connection_timeout(Some(timeout));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(config_error)?;
        Ok(RedisStreamSink {
            connection,
            max_len: None,
            timeout,
        })
    }

    /// Caps each stream near `len` entries (`XADD … MAXLEN ~ len`): older entries are trimmed, so consumers
    /// must keep up within that many changes.
    pub fn max_len(mut self, len: usize) -> Self {
        self.max_len = Some(len);
        self
    }
}

impl Sink for RedisStreamSink {
    async fn publish(&self, batch: &[OutboxMessage]) -> Result<(), BoxError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for m in batch {
            let cmd = pipe.cmd("XADD").arg(m.topic);
            if let Some(len) = self.max_len {
                cmd.arg("MAXLEN").arg("~").arg(len);
            }
            cmd.arg("*")
                .arg("id")
                .arg(m.idempotency_key())
                .arg("entity")
                .arg(&m.entity)
                .arg("key")
                .arg(&m.key)
                .arg("version")
                .arg(m.version)
                .arg("op")
                .arg(m.op.as_str())
                .arg("seq")
                .arg(m.seq)
                .arg("ts_us")
                .arg(m.recorded_at_us);
            if let Some(payload) = &m.payload {
                cmd.arg("payload").arg(payload.as_slice());
            }
        }
        let mut connection = self.connection.clone();
        let reply: redis::RedisResult<Vec<String>> =
            tokio::time::timeout(self.timeout, pipe.query_async(&mut connection))
                .await
                .map_err(|_| -> BoxError { "redis stream sink timed out".into() })?;
        reply
            .map(drop)
            .map_err(|e| Box::new(crate::driver_error::DriverError::from(e)) as BoxError)
    }
}
