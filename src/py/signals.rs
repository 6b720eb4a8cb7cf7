//! Ctrl-C support: an [`Interrupt`] that asks CPython for pending signals.

use crate::error::{Error, Result};
use crate::runtime::Interrupt;
use pyo3::Python;
use std::sync::atomic::{AtomicBool, Ordering};

/// Checks Python signals. Must only be asked from the thread that called into Rust
/// (CPython runs signal handlers on the main thread only); worker threads see `cancelled`.
pub(crate) struct PythonSignals {
    cancelled: AtomicBool,
    caller: std::thread::ThreadId,
}

impl PythonSignals {
    pub(crate) fn new() -> Self {
        PythonSignals {
            cancelled: AtomicBool::new(false),
            caller: std::thread::current().id(),
        }
    }
}

impl Interrupt for PythonSignals {
    fn check(&self) -> Result<()> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        if std::thread::current().id() != self.caller {
            return Ok(());
        }
        let interrupted = Python::attach(|py| py.check_signals().is_err());
        if interrupted {
            self.cancelled.store(true, Ordering::Relaxed);
            return Err(Error::Cancelled);
        }
        Ok(())
    }
}
