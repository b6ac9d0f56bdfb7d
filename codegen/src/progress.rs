//! How far a long generation has got, for a progress display (`capgen` shows one on a terminal).

/// One step of a generation, reported as it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// `done` of the `total` named `.proto` files compiled, with the imports each needed.
    Loading { done: usize, total: usize },
    /// The schema is compiled: `files` files in all, imports included.
    Loaded { files: usize },
    /// `done` of the `total` package files emitted; `package` is the one just finished.
    Emitting {
        done: usize,
        total: usize,
        package: &'a str,
    },
}
