//! Finishing a write whose caller went away.
//!
//! A write commits to the store and then updates the caches; if the caller drops the write's future between
//! the two (a timeout, a cancelled request), the caches would keep the old version. [`DetachOnDrop`] runs the
//! write inline on the caller's task — no hand-off to another thread on the normal path — and, if it is dropped
//! before completion, moves the unfinished future into a spawned task that completes it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs `F` in place; if dropped unfinished, spawns the rest on the current tokio runtime.
pub(crate) struct DetachOnDrop<F: Future<Output = T> + Send + 'static, T: Send + 'static> {
    // Boxed so the partly-run future can move into a task without moving in memory.
    inner: Option<Pin<Box<F>>>,
}

impl<F: Future<Output = T> + Send + 'static, T: Send + 'static> DetachOnDrop<F, T> {
    pub(crate) fn new(future: F) -> Self {
        DetachOnDrop {
            inner: Some(Box::pin(future)),
        }
    }
}

impl<F: Future<Output = T> + Send + 'static, T: Send + 'static> Future for DetachOnDrop<F, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let future = self.inner.as_mut().expect("polled after completion");
        match future.as_mut().poll(cx) {
            Poll::Ready(value) => {
                self.inner = None;
                Poll::Ready(value)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future<Output = T> + Send + 'static, T: Send + 'static> Drop for DetachOnDrop<F, T> {
    fn drop(&mut self) {
        if let Some(unfinished) = self.inner.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(unfinished);
        }
    }
}
