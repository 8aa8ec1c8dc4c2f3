//! Topology Change machine (802.1D-2004 17.31): a non-edge port that starts forwarding as Root
//! or Designated is a topology change. The bridge then sets the TC flag in its BPDUs for
//! tcWhile, and flushes the addresses learned on every other port; a bridge that hears a TC
//! (or, from an 802.1D neighbour, a TCN, which it acknowledges) flushes and passes it on.
//! A port that stops learning is flushed too: nothing learned through it is valid any more.

use super::port::Tcm;
use super::{Role, Stp};

impl Stp {
    /// INACTIVE (also BEGIN).
    pub(super) fn tcm_inactive(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.t.tc_while = 0;
        p.tc_ack = false;
        p.tcm = Tcm::Inactive;
        self.flush(i);
    }

    fn tcm_learning(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.rcvd_tc = false;
        p.rcvd_tcn = false;
        p.rcvd_tc_ack = false;
        p.tc_prop = false;
        p.tcm = Tcm::Learning;
    }

    /// fdbFlush: ask the switch to flush what it learned on port `i`.
    fn flush(&mut self, i: usize) {
        let p = &mut self.ports[i];
        if !p.flush {
            p.counters.flushes += 1;
        }
        p.flush = true;
    }

    /// newTcWhile (17.21.7).
    fn new_tc_while(&mut self, i: usize) {
        let root_times = self.root_times;
        let p = &mut self.ports[i];
        if p.t.tc_while != 0 {
            return;
        }
        if p.send_rstp {
            p.t.tc_while = p.designated_times.hello.saturating_add(1);
            p.new_info = true;
        } else {
            p.t.tc_while = root_times.max_age.saturating_add(root_times.forward_delay);
        }
    }

    /// setTcPropTree (17.21.18): every port but `i` propagates the change.
    fn set_tc_prop_tree(&mut self, i: usize) {
        for (j, p) in self.ports.iter_mut().enumerate() {
            if j != i {
                p.tc_prop = true;
            }
        }
    }

    /// One transition of the Topology Change machine, if any is enabled.
    pub(super) fn tcm(&mut self, i: usize) -> bool {
        let p = &self.ports[i];
        let root_or_designated = matches!(p.role, Role::Root | Role::Designated);
        let notified = p.rcvd_tc || p.rcvd_tcn || p.rcvd_tc_ack || p.tc_prop;
        match p.tcm {
            // The flush is requested at once (fdbFlush is never left pending here).
            Tcm::Inactive if p.learn => self.tcm_learning(i),
            Tcm::Inactive => return false,
            Tcm::Learning => {
                if !(root_or_designated || p.learn || p.learning || notified) {
                    self.tcm_inactive(i);
                } else if notified {
                    self.tcm_learning(i);
                } else if root_or_designated && p.forward && !p.oper_edge {
                    // DETECTED
                    self.ports[i].counters.tc_detected += 1;
                    self.new_tc_while(i);
                    self.set_tc_prop_tree(i);
                    let p = &mut self.ports[i];
                    p.new_info = true;
                    p.tcm = Tcm::Active;
                } else {
                    return false;
                }
            }
            Tcm::Active => {
                if !root_or_designated || p.oper_edge {
                    self.tcm_learning(i);
                } else if p.rcvd_tcn || p.rcvd_tc {
                    // NOTIFIED_TCN, then NOTIFIED_TC
                    if p.rcvd_tcn {
                        self.new_tc_while(i);
                    }
                    let p = &mut self.ports[i];
                    p.rcvd_tcn = false;
                    p.rcvd_tc = false;
                    if p.role == Role::Designated {
                        p.tc_ack = true;
                        // Towards an 802.1D bridge, acknowledge its TCN at once, as 802.1D
                        // does, not at the next hello.
                        p.new_info |= !p.send_rstp;
                    }
                    self.set_tc_prop_tree(i);
                } else if p.tc_prop && !p.oper_edge {
                    // PROPAGATING
                    self.new_tc_while(i);
                    self.flush(i);
                    self.ports[i].tc_prop = false;
                } else if p.rcvd_tc_ack {
                    // ACKNOWLEDGED
                    let p = &mut self.ports[i];
                    p.t.tc_while = 0;
                    p.rcvd_tc_ack = false;
                } else {
                    return false;
                }
            }
        }
        true
    }
}
