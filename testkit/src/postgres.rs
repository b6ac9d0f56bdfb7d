//! A PostgreSQL 15 server for tests: `initdb` into a temp dir, `pg_ctl start` on a loopback port.
