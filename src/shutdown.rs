//! A shutdown signal that any number of tasks can wait on, triggered once by
//! SIGTERM/SIGINT (or by a test).

use tokio::sync::watch;

/// Waits for shutdown. Cheap to clone.
#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// Triggers shutdown for every `Shutdown` made with it.
#[derive(Clone)]
pub struct ShutdownTrigger {
    tx: std::sync::Arc<watch::Sender<bool>>,
}

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (
            ShutdownTrigger {
                tx: std::sync::Arc::new(tx),
            },
            Shutdown { rx },
        )
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolve once shutdown has been triggered.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }

    /// Trigger on the first SIGTERM or SIGINT; call `on_second` on the next.
    pub fn on_signals(&self, on_second: impl Fn() + Send + 'static) {
        let trigger = self.clone();
        tokio::spawn(async move {
            let mut seen = 0;
            loop {
                if wait_signal().await.is_err() {
                    return;
                }
                seen += 1;
                if seen == 1 {
                    tracing::info!("stopping (signal again to stop at once)");
                    trigger.trigger();
                } else {
                    on_second();
                    return;
                }
            }
        });
    }
}

#[cfg(unix)]
async fn wait_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
