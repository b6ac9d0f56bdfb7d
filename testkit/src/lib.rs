//! # capacitor-testkit
//!
//! Real servers for Capacitor's tests, never mocks: PostgreSQL 15 and Redis 7 from Debian's packages, each
//! started on a free loopback port in a temp dir and stopped when its handle drops. `scripts/test.sh` installs
//! the packages when the machine lacks them.

pub mod alloc;
pub mod postgres;
pub mod proxy;
pub mod redis;
