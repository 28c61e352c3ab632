//! Ctrl-C (SIGINT) and SIGTERM during `hepaseg train`.
//!
//! The first signal only raises a flag; the training loop reads it between steps, saves a
//! complete `last` checkpoint (the same as an epoch's: parameters, BN statistics, optimizer
//! state, step, RNG position — atomic) and the command exits with [`StopSignal::exit_code`]
//! (128 + the signal: 130 for Ctrl-C, 143 for SIGTERM, the shell convention). A second signal
//! ends the process at once with that code; `last` is then the previous checkpoint, since
//! checkpoints are written to a temporary file and renamed (the next start removes the
//! temporary file).
//!
//! Only the command installs the handlers ([`StopSignal::install`]); library callers (tests,
//! `ablate`, `compare`) pass their own flag to [`super::run::train_until`], so a test harness
//! keeps its own Ctrl-C behaviour.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::SigId;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The stop flag and the signal handlers that raise it (removed again on drop).
#[derive(Debug)]
pub struct StopSignal {
    stop: Arc<AtomicBool>,
    signal: Arc<AtomicUsize>,
    ids: Vec<SigId>,
}

impl StopSignal {
    /// Installs the SIGINT and SIGTERM handlers.
    pub fn install() -> Result<Self, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let signal = Arc::new(AtomicUsize::new(0));
        let mut ids = Vec::new();
        let fail = |e: std::io::Error| format!("cannot install the Ctrl-C handler: {e}");
        for sig in [SIGINT, SIGTERM] {
            // Actions run in registration order: the exit-if-already-set check must come
            // before the flag is raised, or the first signal would already exit.
            let code = 128 + sig;
            ids.push(
                signal_hook::flag::register_conditional_shutdown(sig, code, Arc::clone(&stop))
                    .map_err(fail)?,
            );
            ids.push(
                signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)
                    .map_err(fail)?,
            );
            ids.push(signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(fail)?);
        }
        Ok(Self { stop, signal, ids })
    }

    /// The flag the training loop reads.
    pub fn flag(&self) -> &AtomicBool {
        &self.stop
    }

    /// Whether a signal came.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The exit status after a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM).
    pub fn exit_code(&self) -> u8 {
        match self.signal.load(Ordering::SeqCst) {
            0 => 128 + SIGINT as u8,
            s => 128 + s as u8,
        }
    }

    /// The name of the signal that came ("Ctrl-C" for SIGINT).
    pub fn name(&self) -> &'static str {
        if self.signal.load(Ordering::SeqCst) == SIGTERM as usize {
            "SIGTERM"
        } else {
            "Ctrl-C (SIGINT)"
        }
    }
}

impl Drop for StopSignal {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
