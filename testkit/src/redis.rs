//! A Redis 7 server for tests: `redis-server` on a loopback port, stoppable, hangable and restartable.
