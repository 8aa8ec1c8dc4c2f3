//! The per-port variables and timers of the RSTP state machines (802.1D-2004 17.17, 17.19),
//! and the states each per-port machine is in.

use super::bpdu::Bpdu;
use super::priority::{Times, Vector};
use super::{PortConfig, PortCounters, Role};

/// Where a port's spanning-tree information came from (17.19.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InfoIs {
    Disabled,
    Aged,
    Mine,
    Received,
}

/// Port Information machine states (17.27); transient states act and fall into `Current`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pim {
    Disabled,
    Aged,
    Current,
}

/// Port Role Transitions machine states (17.29) that wait; the others act and return here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Prt {
    Disable,
    Disabled,
    Root,
    Designated,
    Alternate,
    Block,
}

/// Topology Change machine states (17.31) that wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tcm {
    Inactive,
    Learning,
    Active,
}

/// Port Protocol Migration machine states (17.24).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ppm {
    CheckingRstp,
    SelectingStp,
    Sensing,
}

/// Per-port timers (17.17), whole seconds, counted down by the one-second tick.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Timers {
    pub fd_while: u16,
    pub hello_when: u16,
    pub mdelay_while: u16,
    pub rb_while: u16,
    pub rcvd_info_while: u16,
    pub rr_while: u16,
    pub tc_while: u16,
}

impl Timers {
    pub fn tick(&mut self) {
        for t in [
            &mut self.fd_while,
            &mut self.hello_when,
            &mut self.mdelay_while,
            &mut self.rb_while,
            &mut self.rcvd_info_while,
            &mut self.rr_while,
            &mut self.tc_while,
        ] {
            *t = t.saturating_sub(1);
        }
    }
}

/// One bridge port: configuration, the 17.19 variables, the machines' states.
#[derive(Debug, Clone)]
pub(super) struct Port {
    pub config: PortConfig,
    /// Port identifier: priority and number (index + 1).
    pub id: u16,
    /// portEnabled: the link is up.
    pub enabled: bool,
    pub t: Timers,
    pub tx_count: u16,

    pub info_is: InfoIs,
    pub port_priority: Vector,
    pub port_times: Times,
    pub designated_priority: Vector,
    pub designated_times: Times,
    pub msg: Option<Bpdu>,
    pub rcvd_msg: bool,

    pub role: Role,
    pub selected_role: Role,
    pub selected: bool,
    pub reselect: bool,
    pub updt_info: bool,
    pub new_info: bool,

    pub agree: bool,
    pub agreed: bool,
    pub proposed: bool,
    pub proposing: bool,
    pub sync: bool,
    pub synced: bool,
    pub re_root: bool,
    pub disputed: bool,

    pub learn: bool,
    pub forward: bool,
    pub learning: bool,
    pub forwarding: bool,

    pub oper_edge: bool,
    pub send_rstp: bool,
    pub rcvd_rstp: bool,
    pub rcvd_stp: bool,

    pub rcvd_tc: bool,
    pub rcvd_tcn: bool,
    pub rcvd_tc_ack: bool,
    pub tc_ack: bool,
    pub tc_prop: bool,
    /// A flush of this port's learned addresses is waiting for the switch.
    pub flush: bool,

    pub pim: Pim,
    pub prt: Prt,
    pub tcm: Tcm,
    pub ppm: Ppm,

    pub counters: PortCounters,
}

impl Port {
    pub fn new(config: PortConfig, index: usize, times: Times) -> Port {
        Port {
            id: super::priority::port_id(config.priority, (index + 1) as u16),
            oper_edge: config.edge,
            config,
            enabled: true,
            t: Timers::default(),
            tx_count: 0,
            info_is: InfoIs::Disabled,
            port_priority: Vector::default(),
            port_times: times,
            designated_priority: Vector::default(),
            designated_times: times,
            msg: None,
            rcvd_msg: false,
            role: Role::Disabled,
            selected_role: Role::Disabled,
            selected: false,
            reselect: false,
            updt_info: false,
            new_info: false,
            agree: false,
            agreed: false,
            proposed: false,
            proposing: false,
            sync: false,
            synced: false,
            re_root: false,
            disputed: false,
            learn: false,
            forward: false,
            learning: false,
            forwarding: false,
            send_rstp: false,
            rcvd_rstp: false,
            rcvd_stp: false,
            rcvd_tc: false,
            rcvd_tcn: false,
            rcvd_tc_ack: false,
            tc_ack: false,
            tc_prop: false,
            flush: false,
            pim: Pim::Disabled,
            prt: Prt::Disable,
            tcm: Tcm::Inactive,
            ppm: Ppm::CheckingRstp,
            counters: PortCounters::default(),
        }
    }

    /// forwardDelay (17.20.6): Hello Time while talking RSTP, Forward Delay otherwise.
    pub fn forward_delay(&self) -> u16 {
        if self.send_rstp {
            self.designated_times.hello
        } else {
            self.designated_times.forward_delay
        }
    }
}
