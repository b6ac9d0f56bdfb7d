//! The code Capacitor generates for `proto/`, included as a user would, plus the descriptor set of the same
//! schemas for tests that need an independent proto3 JSON implementation to compare against.

pub mod e2e {
    pub mod v1 {
        capacitor::include_proto!("e2e.v1");
    }
    pub mod legacy {
        capacitor::include_proto!("e2e.legacy");
    }
}

/// The proto twin of the `#[derive(Validate)]` struct in `tests/derive_validate_twin.rs`.
pub mod derive {
    pub mod v1 {
        capacitor::include_proto!("derive.v1");
    }
}

/// The validator benchmarks' message (`benches/validate` measures it; `tests/zero_alloc.rs` counts its
/// allocations).
pub mod bench {
    pub mod v1 {
        capacitor::include_proto!("bench.v1");
    }
}

/// Entities of the generated repository tests (`tests/generated_repo.rs`).
pub mod repo {
    pub mod v1 {
        capacitor::include_proto!("repo.v1");
    }
}

/// `proto/differential/v1`: the schema protovalidate and the generated validators both judge.
pub mod differential {
    /// `differential.v1`.
    pub mod v1 {
        capacitor::include_proto!("differential.v1");
    }
}

pub mod redaction {
    /// A message with PII whose nested messages and enums carry none.
    pub mod v1 {
        capacitor::include_proto!("redaction.v1");
    }
}

/// The serialized `FileDescriptorSet` of every schema under `proto/` and its imports.
pub const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));
