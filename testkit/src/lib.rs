//! # capacitor-testkit
//!
//! Real servers for Capacitor's tests, never mocks: PostgreSQL 15, Redis 7 and NATS 2.9 (JetStream) from
//! Debian's packages, and an S3-compatible server (crates.io's `s3s-fs`), each started on a free loopback port in a temp dir and stopped when its handle drops.
//! `scripts/test.sh` installs the packages when the machine lacks them.

pub mod alloc;
pub mod nats;
pub mod postgres;
pub mod proxy;
pub mod redis;
pub mod s3;
