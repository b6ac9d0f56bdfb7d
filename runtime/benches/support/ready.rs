//! Polls a future that never suspends (an L1 hit) to completion, so an L1 benchmark times the hit and not an
//! executor. Included by the benches with `#[path]`.

use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// The value of `future`, which must complete on its first poll.
pub fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("an L1 hit does not suspend"),
    }
}
