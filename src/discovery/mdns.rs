//! mDNS (DNS-SD) for lts through the mdns-sd crate: a tracker started with
//! `--mdns` advertises `_lts._tcp.local` with its role, group and version in
//! TXT records; workers and `lts --mdns` browse for it. The crate runs its
//! own thread; a small thread here turns its events into the current set of
//! tracker addresses.

use super::DiscoveryError;
use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use tokio::sync::watch;

/// The DNS-SD service type every lts node uses.
pub const SERVICE_TYPE: &str = "_lts._tcp.local.";
/// The TXT `role` of a tracker.
pub const TRACKER_ROLE: &str = "tracker";
/// The TXT `group` trackers advertise (one tracker node group per cluster).
pub const TRACKER_GROUP: &str = "trackers";

fn err(e: impl std::fmt::Display) -> DiscoveryError {
    DiscoveryError::Mdns(e.to_string())
}

/// A service advertised while this lives.
pub struct Advertiser {
    daemon: ServiceDaemon,
    fullname: String,
}

impl Advertiser {
    /// Advertise a node of `role` and `group` reachable at `addr`. An
    /// unspecified IP (0.0.0.0) advertises every address of the host.
    pub fn start(role: &str, group: &str, addr: SocketAddr) -> Result<Advertiser, DiscoveryError> {
        let daemon = ServiceDaemon::new().map_err(err)?;
        let host = gethostname::gethostname()
            .to_string_lossy()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>();
        let instance = format!("{role}-{host}-{}", addr.port());
        let properties = [
            ("role", role.to_string()),
            ("group", group.to_string()),
            ("version", crate::VERSION.to_string()),
            ("proto", crate::protocol::PROTOCOL_VERSION.to_string()),
        ];
        let ips: Vec<IpAddr> = if addr.ip().is_unspecified() {
            Vec::new()
        } else {
            vec![addr.ip()]
        };
        let mut info = ServiceInfo::new(
            SERVICE_TYPE,
            &instance,
            &format!("{host}.local."),
            &ips[..],
            addr.port(),
            &properties[..],
        )
        .map_err(err)?;
        if ips.is_empty() {
            info = info.enable_addr_auto();
        }
        let fullname = info.get_fullname().to_string();
        daemon.register(info).map_err(err)?;
        tracing::info!(service = %fullname, %addr, "advertising on mDNS");
        Ok(Advertiser { daemon, fullname })
    }
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        // Say goodbye so browsers drop us at once, then stop the daemon.
        if let Ok(done) = self.daemon.unregister(&self.fullname) {
            let _ = done.recv_timeout(std::time::Duration::from_secs(1));
        }
        let _ = self.daemon.shutdown();
    }
}

/// Browsing for nodes of one role while this lives.
pub struct Browser {
    daemon: ServiceDaemon,
}

impl Browser {
    /// Browse for nodes whose TXT `role` is `role`; the receiver holds their
    /// addresses (`IP:PORT`, sorted), updated as they come and go.
    pub fn start(role: &str) -> Result<(Browser, watch::Receiver<Vec<String>>), DiscoveryError> {
        let daemon = ServiceDaemon::new().map_err(err)?;
        let events = daemon.browse(SERVICE_TYPE).map_err(err)?;
        let (tx, rx) = watch::channel(Vec::new());
        let role = role.to_string();
        std::thread::Builder::new()
            .name("mdns-browse".into())
            .spawn(move || {
                let mut found: BTreeMap<String, String> = BTreeMap::new();
                // Ends when the daemon shuts down and drops the sender.
                while let Ok(event) = events.recv() {
                    let changed = match event {
                        ServiceEvent::ServiceResolved(service) => {
                            if service.get_property_val_str("role") != Some(role.as_str()) {
                                continue;
                            }
                            let Some(addr) = pick_address(
                                service.get_addresses().iter().map(|ip| ip.to_ip_addr()),
                                service.port,
                            ) else {
                                continue;
                            };
                            found.insert(service.fullname.clone(), addr.clone()) != Some(addr)
                        }
                        ServiceEvent::ServiceRemoved(_, fullname) => {
                            found.remove(&fullname).is_some()
                        }
                        _ => false,
                    };
                    if changed {
                        let mut addrs: Vec<String> = found.values().cloned().collect();
                        addrs.sort();
                        addrs.dedup();
                        tx.send_if_modified(|current| {
                            let differs = *current != addrs;
                            if differs {
                                tracing::info!(trackers = ?addrs, "mDNS: trackers found");
                                *current = addrs;
                            }
                            differs
                        });
                    }
                }
            })
            .map_err(err)?;
        Ok((Browser { daemon }, rx))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}

/// The address to dial: an IPv4 one first, then IPv6 (bracketed).
fn pick_address(ips: impl Iterator<Item = IpAddr>, port: u16) -> Option<String> {
    let mut ips: Vec<IpAddr> = ips.collect();
    ips.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    ips.first().map(|ip| SocketAddr::new(*ip, port).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_is_preferred_and_v6_is_bracketed() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(
            pick_address([v6, v4].into_iter(), 7420).as_deref(),
            Some("127.0.0.1:7420")
        );
        assert_eq!(
            pick_address([v6].into_iter(), 1).as_deref(),
            Some("[::1]:1")
        );
        assert_eq!(pick_address(std::iter::empty(), 1), None);
    }
}
