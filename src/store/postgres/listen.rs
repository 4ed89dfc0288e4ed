//! Wake-ups between trackers that share a database: `listen_work` opens an
//! asynchronous connection of its own that `LISTEN`s on the work channel and
//! yields its payloads; the same connection `notify`s the others (after the
//! commit whose news it carries: the tracker's relay sends it then).

use super::super::{Result, StoreError};
use super::{describe, redact};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

/// The notification channel work wake-ups are sent on.
pub const WORK_CHANNEL: &str = "lts_work";

/// Groups that have new work, as other trackers commit it. Dropping the
/// listener closes its connection.
pub struct WorkListener {
    groups: mpsc::UnboundedReceiver<String>,
    client: tokio_postgres::Client,
}

impl WorkListener {
    /// The next group with new work, or `None` once the connection is lost
    /// (the caller reconnects with `listen_work` and rescans its queues,
    /// since wake-ups may have been missed in between).
    pub async fn recv(&mut self) -> Option<String> {
        self.groups.recv().await
    }

    /// Send `payload` to every listener on the channel (this one too).
    pub async fn notify(&self, payload: &str) -> Result<()> {
        self.client
            .execute("SELECT pg_notify($1, $2)", &[&WORK_CHANNEL, &payload])
            .await
            .map_err(|e| StoreError::Backend(describe(&e)))?;
        Ok(())
    }
}

/// Connect to `url` and listen for work wake-ups. Must be called inside a
/// tokio runtime: the connection is driven by a task spawned on it.
pub async fn listen_work(url: &str) -> Result<WorkListener> {
    let shown = redact(url);
    let open = |e: tokio_postgres::Error| StoreError::Open {
        path: shown.clone(),
        reason: describe(&e),
    };
    let mut config: tokio_postgres::Config = url.parse().map_err(open)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(super::CONNECT_TIMEOUT);
    }
    super::notice_dead_servers!(&mut config);
    let (client, mut connection) = config.connect(NoTls).await.map_err(open)?;
    let (tx, groups) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) if n.channel() == WORK_CHANNEL => {
                    if tx.send(n.payload().to_string()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("PostgreSQL work listener: {}", describe(&e));
                    break;
                }
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {WORK_CHANNEL}"))
        .await
        .map_err(open)?;
    Ok(WorkListener { groups, client })
}
