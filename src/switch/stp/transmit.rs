//! Port Transmit (802.1D-2004 17.26) and Port Protocol Migration (17.24) machines. A port
//! sends RST BPDUs while sendRSTP holds, else 802.1D configuration BPDUs (as Designated) and
//! TCNs (as Root); at most Transmit Hold Count per second. A port that hears an 802.1D BPDU
//! switches to 802.1D BPDUs, and back when it hears RSTP again, each time keeping its choice
//! for at least Migrate Time so that the two ends settle.

use super::bpdu::{Bpdu, BpduRole, Kind, flags};
use super::port::Ppm;
use super::{MIGRATE_TIME, Role, Stp, TX_HOLD_COUNT};

impl Stp {
    /// TRANSMIT_INIT (BEGIN), then IDLE.
    pub(super) fn ptx_init(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.new_info = true;
        p.tx_count = 0;
        p.t.hello_when = p.designated_times.hello;
    }

    /// One transition of the Port Transmit machine (each returns to IDLE at once).
    pub(super) fn ptx(&mut self, i: usize) -> bool {
        let p = &mut self.ports[i];
        if !p.enabled || p.role == Role::Disabled || !p.selected || p.updt_info {
            return false;
        }
        let may_send = p.new_info && p.tx_count < TX_HOLD_COUNT && p.t.hello_when != 0;
        if p.t.hello_when == 0 {
            // TRANSMIT_PERIODIC
            p.new_info = p.new_info
                || p.role == Role::Designated
                || (p.role == Role::Root && p.t.tc_while != 0);
        } else if may_send && p.send_rstp {
            let role = match p.role {
                Role::Root => BpduRole::Root,
                Role::Designated => BpduRole::Designated,
                _ => BpduRole::AlternateBackup,
            };
            let mut f = 0;
            for (on, bit) in [
                (p.agree, flags::AGREEMENT),
                (p.proposing, flags::PROPOSAL),
                (p.t.tc_while != 0, flags::TC),
                (p.learning, flags::LEARNING),
                (p.forwarding, flags::FORWARDING),
            ] {
                if on {
                    f |= bit;
                }
            }
            let b =
                Bpdu::new(Kind::Rst, f, p.designated_priority, p.designated_times).with_role(role);
            p.tc_ack = false;
            self.sent(i, b);
        } else if may_send && p.role == Role::Root {
            self.sent(i, Bpdu::tcn());
        } else if may_send && p.role == Role::Designated {
            let mut f = 0;
            if p.t.tc_while != 0 {
                f |= flags::TC;
            }
            if p.tc_ack {
                f |= flags::TC_ACK;
            }
            let b = Bpdu::new(Kind::Config, f, p.designated_priority, p.designated_times);
            p.tc_ack = false;
            self.sent(i, b);
        } else {
            return false;
        }
        // IDLE
        let p = &mut self.ports[i];
        p.t.hello_when = p.designated_times.hello;
        true
    }

    fn sent(&mut self, i: usize, b: Bpdu) {
        let p = &mut self.ports[i];
        p.new_info = false;
        p.tx_count += 1;
        self.send(i, b);
    }

    /// CHECKING_RSTP (also BEGIN).
    pub(super) fn ppm_checking_rstp(&mut self, i: usize) {
        let rstp = self.rstp();
        let p = &mut self.ports[i];
        p.send_rstp = rstp;
        p.t.mdelay_while = MIGRATE_TIME;
        p.ppm = Ppm::CheckingRstp;
    }

    fn ppm_sensing(&mut self, i: usize) {
        let p = &mut self.ports[i];
        p.rcvd_rstp = false;
        p.rcvd_stp = false;
        p.ppm = Ppm::Sensing;
    }

    /// One transition of the Port Protocol Migration machine, if any is enabled.
    pub(super) fn ppm(&mut self, i: usize) -> bool {
        let rstp = self.rstp();
        let p = &mut self.ports[i];
        match p.ppm {
            Ppm::CheckingRstp if p.t.mdelay_while == 0 => self.ppm_sensing(i),
            Ppm::CheckingRstp if p.t.mdelay_while != MIGRATE_TIME && !p.enabled => {
                self.ppm_checking_rstp(i)
            }
            Ppm::SelectingStp if p.t.mdelay_while == 0 || !p.enabled => self.ppm_sensing(i),
            Ppm::Sensing if !p.enabled || (rstp && !p.send_rstp && p.rcvd_rstp) => {
                self.ppm_checking_rstp(i)
            }
            Ppm::Sensing if p.send_rstp && p.rcvd_stp => {
                // SELECTING_STP
                p.send_rstp = false;
                p.t.mdelay_while = MIGRATE_TIME;
                p.ppm = Ppm::SelectingStp;
            }
            _ => return false,
        }
        true
    }
}
