//! Port Role Selection machine (802.1D-2004 17.28) and updtRolesTree (17.21.25): the root
//! priority vector is the best of the bridge's own and of every port's received vector plus
//! that port's path cost; the port it came through is the Root Port; every other port is
//! Designated where the bridge's vector beats what the port heard, else Alternate (or Backup
//! when what it heard came from this bridge).

use core::cmp::Ordering;

use super::port::InfoIs;
use super::{Role, Stp};

impl Stp {
    /// updtRoleDisabledTree (17.21.24), at BEGIN.
    pub(super) fn update_role_disabled_tree(&mut self) {
        for p in &mut self.ports {
            p.selected_role = Role::Disabled;
        }
    }

    /// ROLE_SELECTION, entered whenever some port asks to reselect.
    pub(super) fn prs(&mut self) -> bool {
        if !self.ports.iter().any(|p| p.reselect) {
            return false;
        }
        for p in &mut self.ports {
            p.reselect = false;
        }
        self.update_roles_tree();
        // setSelectedTree (17.21.16): no port can have asked to reselect meanwhile.
        for p in &mut self.ports {
            p.selected = true;
        }
        true
    }

    /// updtRolesTree (17.21.25).
    fn update_roles_tree(&mut self) {
        let me = self.id.mac();
        let mut best = self.bridge_priority;
        let mut best_port: Option<(usize, u16)> = None;
        let mut root_times = self.bridge_times;
        for (i, p) in self.ports.iter().enumerate() {
            // a): root path priority vectors, except those our own bridge sent.
            if p.info_is != InfoIs::Received || p.port_priority.bridge.mac() == me {
                continue;
            }
            let mut v = p.port_priority;
            v.cost = v.cost.saturating_add(p.config.cost);
            let better = match v.compare(&best) {
                Ordering::Less => true,
                // The receiving port's identifier breaks the tie.
                Ordering::Equal => best_port.is_some_and(|(_, id)| p.id < id),
                Ordering::Greater => false,
            };
            if better {
                best = v;
                best_port = Some((i, p.id));
                root_times = p.port_times;
                root_times.message_age = root_times.message_age.saturating_add(1);
            }
        }
        // b), c)
        self.root_priority = best;
        self.root_port = best_port.map(|(i, _)| i);
        self.root_times = root_times;
        let (id, hello) = (self.id, self.bridge_times.hello);
        for (i, p) in self.ports.iter_mut().enumerate() {
            // d), e)
            p.designated_priority = super::Vector {
                root: best.root,
                cost: best.cost,
                bridge: id,
                port: p.id,
            };
            p.designated_times = root_times;
            p.designated_times.hello = hello;
            // f)–l)
            match p.info_is {
                InfoIs::Disabled => p.selected_role = Role::Disabled,
                InfoIs::Aged => {
                    p.selected_role = Role::Designated;
                    p.updt_info = true;
                }
                InfoIs::Mine => {
                    p.selected_role = Role::Designated;
                    if p.port_priority != p.designated_priority
                        || p.port_times != p.designated_times
                    {
                        p.updt_info = true;
                    }
                }
                InfoIs::Received if self.root_port == Some(i) => {
                    p.selected_role = Role::Root;
                    p.updt_info = false;
                }
                InfoIs::Received
                    if p.designated_priority.compare(&p.port_priority) != Ordering::Less =>
                {
                    p.selected_role = if p.port_priority.bridge.mac() == id.mac() {
                        Role::Backup
                    } else {
                        Role::Alternate
                    };
                    p.updt_info = false;
                }
                InfoIs::Received => {
                    p.selected_role = Role::Designated;
                    p.updt_info = true;
                }
            }
        }
    }
}
