//! React to master changes (LTS's MasterChangeListener): follow the master
//! of a node group through a registry and say whether this program's node
//! is it.
//!
//! ```text
//! ltsd registry &
//! ltsd worker --registry 127.0.0.1:7410 --group reports --runner builtin:noop &
//! cargo run --example master_listener -- reports [MY_NODE_ID]
//! ```

use lts::model::Role;
use lts::registry::{MasterWatch, RegistryClient};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let group = args.next().unwrap_or_else(|| "default".into());
    let me = args.next();
    let registry = std::env::var("LTS_REGISTRY").unwrap_or_else(|_| "127.0.0.1:7410".into());
    let mut masters =
        MasterWatch::new(RegistryClient::new(registry, "client"), Role::Worker, group);
    loop {
        match masters.next().await {
            Ok(change) => {
                let who = change.master.as_ref().map_or("none", |m| m.id.as_str());
                let mine = me.as_deref().is_some_and(|id| change.is_master(id));
                println!(
                    "worker group {}: master {who} (epoch {}){}",
                    change.group,
                    change.epoch,
                    if mine { ", and that is this node" } else { "" }
                );
            }
            Err(e) => {
                eprintln!("master_listener: {e}");
                std::process::exit(4);
            }
        }
    }
}
