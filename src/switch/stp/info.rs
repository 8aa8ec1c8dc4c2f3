//! Port Information machine (802.1D-2004 17.27): what a port knows of the spanning tree —
//! received from the designated bridge on its LAN, or its own as the designated port — and
//! how each received BPDU updates it (rcvInfo, 17.21.8), with the 802.1Q-2005 corrections
//! (recordAgreement on repeated and superior information, a TCN sets rcvdTcn), and one
//! addition from 802.1D-1998: inferior designated information is answered at once.

use core::cmp::Ordering;

use super::Stp;
use super::bpdu::{BpduRole, Kind, flags};
use super::port::{InfoIs, Pim};

/// What a received BPDU says relative to what the port holds (17.19.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RcvdInfo {
    SuperiorDesignated,
    RepeatedDesignated,
    InferiorDesignated,
    InferiorRootAlternate,
    Other,
}

impl Stp {
    /// DISABLED (also BEGIN).
    pub(super) fn pim_disabled(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.rcvd_msg = false;
        p.proposing = false;
        p.proposed = false;
        p.agree = false;
        p.agreed = false;
        p.t.rcvd_info_while = 0;
        p.info_is = InfoIs::Disabled;
        p.reselect = true;
        p.selected = false;
        p.pim = Pim::Disabled;
    }

    fn pim_aged(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.info_is = InfoIs::Aged;
        p.reselect = true;
        p.selected = false;
        p.pim = Pim::Aged;
    }

    /// UPDATE: the port takes the designated information as its own, then CURRENT.
    fn pim_update(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.proposing = false;
        p.proposed = false;
        let better_or_same = p.info_is == InfoIs::Mine
            && p.designated_priority.compare(&p.port_priority) != Ordering::Greater;
        p.agreed = p.agreed && better_or_same;
        p.synced = p.synced && p.agreed;
        p.port_priority = p.designated_priority;
        p.port_times = p.designated_times;
        p.updt_info = false;
        p.info_is = InfoIs::Mine;
        p.new_info = true;
        p.pim = Pim::Current;
    }

    /// One transition of the Port Information machine, if any is enabled.
    pub(super) fn pim(&mut self, i: usize) -> bool {
        let p = &self.ports[i];
        if !p.enabled && p.info_is != InfoIs::Disabled {
            self.pim_disabled(i);
            return true;
        }
        match p.pim {
            Pim::Disabled if p.enabled => self.pim_aged(i),
            Pim::Disabled if p.rcvd_msg => self.pim_disabled(i),
            Pim::Aged | Pim::Current if p.selected && p.updt_info => self.pim_update(i),
            Pim::Current if p.rcvd_msg && !p.updt_info => self.pim_receive(i),
            Pim::Current
                if p.info_is == InfoIs::Received
                    && p.t.rcvd_info_while == 0
                    && !p.updt_info
                    && !p.rcvd_msg =>
            {
                self.pim_aged(i)
            }
            _ => return false,
        }
        true
    }

    /// rcvInfo (17.21.8).
    fn rcv_info(&mut self, i: usize) -> RcvdInfo {
        let p = &mut self.ports[i];
        let Some(m) = p.msg else {
            return RcvdInfo::Other;
        };
        if m.kind == Kind::Tcn {
            p.rcvd_tcn = true;
            p.counters.tc_received += 1;
            return RcvdInfo::Other;
        }
        let order = m.vector.compare(&p.port_priority);
        let times_same = m.times() == p.port_times;
        match m.role() {
            BpduRole::Designated => {
                if m.vector.superior(&p.port_priority) && order != Ordering::Equal
                    || order == Ordering::Equal && !times_same
                {
                    RcvdInfo::SuperiorDesignated
                } else if order == Ordering::Equal {
                    RcvdInfo::RepeatedDesignated
                } else {
                    RcvdInfo::InferiorDesignated
                }
            }
            BpduRole::Root | BpduRole::AlternateBackup if order != Ordering::Less => {
                RcvdInfo::InferiorRootAlternate
            }
            _ => RcvdInfo::Other,
        }
    }

    /// RECEIVE and the state it leads to, then CURRENT.
    fn pim_receive(&mut self, i: usize) {
        let rcvd = self.rcv_info(i);
        let rstp = self.rstp();
        let p = &mut self.ports[i];
        p.pim = Pim::Current;
        let Some(m) = p.msg else {
            p.rcvd_msg = false;
            return;
        };
        // recordProposal (17.21.11)
        let proposal = m.role() == BpduRole::Designated && m.has(flags::PROPOSAL);
        // recordAgreement (17.21.9); all links are point-to-point.
        let agreement = rstp && m.kind == Kind::Rst && m.has(flags::AGREEMENT);
        match rcvd {
            RcvdInfo::SuperiorDesignated => {
                p.agreed = false;
                p.proposing = false;
                p.proposed |= proposal;
                set_tc_flags(p, m.flags);
                let better_or_same = p.info_is == InfoIs::Received
                    && m.vector.compare(&p.port_priority) != Ordering::Greater;
                p.agree = p.agree && better_or_same;
                record_agreement(p, agreement);
                p.synced = p.synced && p.agreed;
                p.port_priority = m.vector;
                p.port_times = m.times();
                p.port_times.hello = p.port_times.hello.max(1);
                update_rcvd_info_while(p);
                p.info_is = InfoIs::Received;
                p.reselect = true;
                p.selected = false;
            }
            RcvdInfo::RepeatedDesignated => {
                p.proposed |= proposal;
                set_tc_flags(p, m.flags);
                record_agreement(p, agreement);
                update_rcvd_info_while(p);
            }
            RcvdInfo::InferiorDesignated => {
                // Reply at once with our better information, as an 802.1D bridge does
                // (802.1D-1998 8.6.2.3, Linux's br_reply): the neighbour may have lost ours
                // to a race of updates and would otherwise wait a hello time for it.
                p.new_info = true;
                // recordDispute (as 802.1Q-2005 has it): a designated port that learns while
                // we are designated too disputes our role.
                if m.kind == Kind::Rst && m.has(flags::LEARNING) {
                    p.disputed = true;
                    p.agreed = false;
                }
            }
            RcvdInfo::InferiorRootAlternate => {
                record_agreement(p, agreement);
                set_tc_flags(p, m.flags);
            }
            RcvdInfo::Other => {}
        }
        p.rcvd_msg = false;
    }
}

/// recordAgreement (17.21.9).
fn record_agreement(p: &mut super::port::Port, agreement: bool) {
    if agreement {
        p.agreed = true;
        p.proposing = false;
    } else {
        p.agreed = false;
    }
}

/// setTcFlags (17.21.17) for configuration and RST BPDUs.
fn set_tc_flags(p: &mut super::port::Port, f: u8) {
    if f & flags::TC != 0 {
        p.rcvd_tc = true;
        p.counters.tc_received += 1;
    }
    if f & flags::TC_ACK != 0 {
        p.rcvd_tc_ack = true;
    }
}

/// updtRcvdInfoWhile (17.21.23): three hellos, unless the information is too old already.
fn update_rcvd_info_while(p: &mut super::port::Port) {
    let t = p.port_times;
    p.t.rcvd_info_while = if t.message_age.saturating_add(1) <= t.max_age {
        t.hello.saturating_mul(3)
    } else {
        0
    };
}
