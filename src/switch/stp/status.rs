//! A snapshot of a bridge's spanning tree for reports and `shoal ctl`: the root as this bridge
//! sees it and, per port, role, state and counters. `Display` prints it in the spirit of
//! `mstpctl showport` / `bridge link`.

use core::fmt;

use super::{BridgeId, PortCounters, PortState, Role, Stp};

/// The bridge's view of the spanning tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// This bridge.
    pub bridge_id: BridgeId,
    /// The root bridge.
    pub root_id: BridgeId,
    /// Cost of the path to the root.
    pub root_path_cost: u32,
    /// The port towards the root; `None` on the root bridge.
    pub root_port: Option<usize>,
    /// Some port is signalling a topology change (tcWhile running).
    pub topology_change: bool,
    /// Times the state machines did not settle within their step bound (a safeguard that
    /// should stay at zero).
    pub unsettled: u64,
    /// Every port.
    pub ports: Vec<PortStatus>,
}

/// One port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortStatus {
    /// Its role.
    pub role: Role,
    /// Its forwarding state.
    pub state: PortState,
    /// Operationally an edge port.
    pub edge: bool,
    /// Sending RST BPDUs (false: fell back to 802.1D).
    pub rstp: bool,
    /// Its tallies.
    pub counters: PortCounters,
}

impl Stp {
    /// A snapshot for reports.
    pub fn status(&self) -> Status {
        Status {
            bridge_id: self.id,
            root_id: self.root_priority.root,
            root_path_cost: self.root_priority.cost,
            root_port: self.root_port,
            topology_change: self.ports.iter().any(|p| p.t.tc_while != 0),
            unsettled: self.unsettled,
            ports: (0..self.ports.len())
                .map(|i| {
                    let p = &self.ports[i];
                    PortStatus {
                        role: p.role,
                        state: self.state(i),
                        edge: p.oper_edge,
                        rstp: p.send_rstp,
                        counters: p.counters,
                    }
                })
                .collect(),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bridge {} root {} cost {}",
            self.bridge_id, self.root_id, self.root_path_cost
        )?;
        if let Some(p) = self.root_port {
            write!(f, " root-port {p}")?;
        }
        if self.topology_change {
            f.write_str(" topology-change")?;
        }
        for (i, p) in self.ports.iter().enumerate() {
            let c = &p.counters;
            write!(
                f,
                "\n  port {i}: {:?} {:?}{}{} rx {}/{}/{} tx {}/{}/{} malformed {} tc {}/{}",
                p.role,
                p.state,
                if p.edge { " edge" } else { "" },
                if p.rstp { "" } else { " stp" },
                c.rx_rst,
                c.rx_config,
                c.rx_tcn,
                c.tx_rst,
                c.tx_config,
                c.tx_tcn,
                c.rx_malformed,
                c.tc_received,
                c.tc_detected,
            )?;
        }
        Ok(())
    }
}
