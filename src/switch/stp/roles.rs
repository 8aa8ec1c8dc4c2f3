//! Port Role Transitions (802.1D-2004 17.29) and Port State Transition (17.30) machines: how a
//! port moves to the role selected for it, and when it may learn and forward. A Designated
//! port proposes; the port across agrees once every other port of its bridge is in sync
//! (discarding or agreed), which lets the tree come up port by port without waiting for
//! timers. Without an agreement (an 802.1D neighbour) a port waits Forward Delay twice.

use super::port::Prt;
use super::{Role, Stp};

impl Stp {
    /// INIT_PORT (BEGIN), then DISABLE_PORT.
    pub(super) fn prt_init(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.role = Role::Disabled;
        p.learn = false;
        p.forward = false;
        p.synced = false;
        p.sync = true;
        p.re_root = true;
        p.t.rr_while = p.designated_times.forward_delay;
        p.t.fd_while = p.designated_times.max_age;
        p.t.rb_while = 0;
        self.prt_disable_port(i);
    }

    fn prt_disable_port(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.role = p.selected_role;
        p.learn = false;
        p.forward = false;
        p.prt = Prt::Disable;
    }

    fn prt_disabled_port(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.t.fd_while = p.designated_times.max_age;
        p.synced = true;
        p.t.rr_while = 0;
        p.sync = false;
        p.re_root = false;
        p.prt = Prt::Disabled;
    }

    fn prt_root_port(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.role = Role::Root;
        p.t.rr_while = p.designated_times.forward_delay;
        p.prt = Prt::Root;
    }

    fn prt_designated_port(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.role = Role::Designated;
        p.prt = Prt::Designated;
    }

    fn prt_alternate_port(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.t.fd_while = p.forward_delay();
        p.synced = true;
        p.t.rr_while = 0;
        p.sync = false;
        p.re_root = false;
        p.prt = Prt::Alternate;
    }

    fn prt_block_port(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.role = p.selected_role;
        p.learn = false;
        p.forward = false;
        p.prt = Prt::Block;
    }

    /// allSynced (17.20.3).
    fn all_synced(&self) -> bool {
        self.ports
            .iter()
            .all(|p| p.selected && p.role == p.selected_role && (p.role == Role::Root || p.synced))
    }

    /// reRooted (17.20.10): no other port is still a recent root port.
    fn re_rooted(&self, i: usize) -> bool {
        self.ports
            .iter()
            .enumerate()
            .all(|(j, p)| j == i || p.t.rr_while == 0)
    }

    fn set_sync_tree(&mut self) {
        for p in &mut self.ports {
            p.sync = true;
        }
    }

    fn set_re_root_tree(&mut self) {
        for p in &mut self.ports {
            p.re_root = true;
        }
    }

    /// One transition of the Port Role Transitions machine, if any is enabled.
    pub(super) fn prt(&mut self, i: usize) -> bool {
        let p = &self.ports[i];
        if !p.selected || p.updt_info {
            return false;
        }
        // The global transitions: the selected role changed.
        if p.role != p.selected_role {
            match p.selected_role {
                Role::Disabled => self.prt_disable_port(i),
                Role::Root => self.prt_root_port(i),
                Role::Designated => self.prt_designated_port(i),
                Role::Alternate | Role::Backup => self.prt_block_port(i),
            }
            return true;
        }
        match p.prt {
            Prt::Disable => {
                if p.learning || p.forwarding {
                    return false;
                }
                self.prt_disabled_port(i);
            }
            Prt::Disabled => {
                if p.t.fd_while == p.designated_times.max_age && !p.sync && !p.re_root && p.synced {
                    return false;
                }
                self.prt_disabled_port(i);
            }
            Prt::Block => {
                if p.learning || p.forwarding {
                    return false;
                }
                self.prt_alternate_port(i);
            }
            Prt::Root => return self.prt_root(i),
            Prt::Designated => return self.prt_designated(i),
            Prt::Alternate => return self.prt_alternate(i),
        }
        true
    }

    fn prt_root(&mut self, i: usize) -> bool {
        let rstp = self.rstp();
        let all_synced = self.all_synced();
        let re_rooted = self.re_rooted(i);
        let p = &mut self.ports[i];
        let timer_or_rerooted = p.t.fd_while == 0 || (re_rooted && p.t.rb_while == 0 && rstp);
        if p.t.rr_while != p.designated_times.forward_delay {
            self.prt_root_port(i);
        } else if p.re_root && p.forward {
            // REROOTED
            p.re_root = false;
        } else if timer_or_rerooted && !p.learn {
            // ROOT_LEARN
            p.t.fd_while = p.forward_delay();
            p.learn = true;
        } else if timer_or_rerooted && p.learn && !p.forward {
            // ROOT_FORWARD
            p.t.fd_while = 0;
            p.forward = true;
        } else if p.proposed && !p.agree {
            // ROOT_PROPOSED
            p.proposed = false;
            self.set_sync_tree();
        } else if (all_synced && !p.agree) || (p.proposed && p.agree) {
            // ROOT_AGREED
            p.proposed = false;
            p.sync = false;
            p.agree = true;
            p.new_info = true;
        } else if !p.forward && !p.re_root {
            // REROOT
            self.set_re_root_tree();
        } else {
            return false;
        }
        true
    }

    fn prt_designated(&mut self, i: usize) -> bool {
        let p = &mut self.ports[i];
        let may_advance = (p.t.fd_while == 0 || p.agreed || p.oper_edge)
            && (p.t.rr_while == 0 || !p.re_root)
            && !p.sync;
        if ((p.sync && !p.synced) || (p.re_root && p.t.rr_while != 0) || p.disputed)
            && !p.oper_edge
            && (p.learn || p.forward)
        {
            // DESIGNATED_DISCARD
            p.learn = false;
            p.forward = false;
            p.disputed = false;
            p.t.fd_while = p.forward_delay();
        } else if may_advance && !p.learn {
            // DESIGNATED_LEARN
            p.learn = true;
            p.t.fd_while = p.forward_delay();
        } else if may_advance && p.learn && !p.forward {
            // DESIGNATED_FORWARD
            p.forward = true;
            p.t.fd_while = 0;
            p.agreed = p.send_rstp;
        } else if !p.forward && !p.agreed && !p.proposing && !p.oper_edge {
            // DESIGNATED_PROPOSE
            p.proposing = true;
            p.new_info = true;
        } else if (!p.learning && !p.forwarding && !p.synced)
            || (p.agreed && !p.synced)
            || (p.oper_edge && !p.synced)
            || (p.sync && p.synced)
        {
            // DESIGNATED_SYNCED
            p.t.rr_while = 0;
            p.synced = true;
            p.sync = false;
        } else if p.t.rr_while == 0 && p.re_root {
            // DESIGNATED_RETIRED
            p.re_root = false;
        } else {
            return false;
        }
        true
    }

    fn prt_alternate(&mut self, i: usize) -> bool {
        let all_synced = self.all_synced();
        let p = &mut self.ports[i];
        if p.t.rb_while != p.designated_times.hello.saturating_mul(2) && p.role == Role::Backup {
            // BACKUP_PORT
            p.t.rb_while = p.designated_times.hello.saturating_mul(2);
        } else if p.t.fd_while != p.forward_delay() || p.sync || p.re_root || !p.synced {
            self.prt_alternate_port(i);
        } else if p.proposed && !p.agree {
            // ALTERNATE_PROPOSED
            p.proposed = false;
            self.set_sync_tree();
        } else if (all_synced && !p.agree) || (p.proposed && p.agree) {
            // ALTERNATE_AGREED
            p.proposed = false;
            p.agree = true;
            p.new_info = true;
        } else {
            return false;
        }
        true
    }

    /// Port State Transition (17.30) at BEGIN: DISCARDING.
    pub(super) fn pst_discarding(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.learning = false;
        p.forwarding = false;
    }

    /// One transition of the Port State Transition machine: learning and forwarding follow
    /// learn and forward (the switch's learning and forwarding processes switch at once).
    pub(super) fn pst(&mut self, i: usize) -> bool {
        let p = &mut self.ports[i];
        if p.forwarding && !p.forward || p.learning && !p.forwarding && !p.learn {
            p.learning = false;
            p.forwarding = false;
        } else if !p.learning && p.learn {
            p.learning = true;
        } else if p.learning && !p.forwarding && p.forward {
            p.forwarding = true;
            p.counters.forward_transitions += 1;
        } else {
            return false;
        }
        true
    }
}
