//! A node of a network: one of the kinds of instance shoal runs, behind one batch contract.
//!
//! Every kind is sans-IO and speaks the same contract — a batch of frames received on an
//! interface in, [`Action`]s out (transmit on an interface, deliver to the application, drop
//! with a counted reason), timers through `poll_timeout` / `handle_timeout` — so the drivers
//! (the simulator and the engine's workers) never look inside a node. A host is a router with
//! forwarding off (Linux's `ip_forward = 0`); a switch ([`crate::switch`]) is a learning bridge
//! or a hub, which never delivers to an application and originates nothing.

use crate::frame::{Batch, Frame, Pool};
use crate::router::{Action, Router};
use crate::switch::Switch;
use crate::time::Instant;

pub use crate::router::IfaceId;

/// What a node is, as reports and topology files name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Forwards IPv4.
    Router,
    /// An IPv4 end system: a router that does not forward.
    Host,
    /// An Ethernet switch or hub.
    Switch,
}

/// One instance of a network.
// Routers are most nodes, and a network's nodes sit in one vector: boxing them to save a
// switch the difference would add a pointer chase to every router's every batch.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Node {
    /// An IPv4 router or host.
    Router(Router),
    /// An Ethernet switch or hub.
    Switch(Switch),
}

impl From<Switch> for Node {
    fn from(s: Switch) -> Node {
        Node::Switch(s)
    }
}

impl From<Router> for Node {
    fn from(r: Router) -> Node {
        Node::Router(r)
    }
}

impl Node {
    /// Router, host or switch.
    pub fn kind(&self) -> Kind {
        match self {
            Node::Router(r) if r.config().forwarding => Kind::Router,
            Node::Router(_) => Kind::Host,
            Node::Switch(_) => Kind::Switch,
        }
    }

    /// Process a burst of frames received on `iface`, emptying `batch` into `out`.
    #[inline]
    pub fn process(
        &mut self,
        now: Instant,
        iface: IfaceId,
        batch: &mut Batch,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) {
        match self {
            Node::Router(r) => r.process(now, iface, batch, pool, out),
            Node::Switch(s) => s.process(now, iface, batch, pool, out),
        }
    }

    /// Process one received frame.
    pub fn process_frame(
        &mut self,
        now: Instant,
        iface: IfaceId,
        frame: Frame,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) {
        match self {
            Node::Router(r) => r.process_frame(now, iface, frame, pool, out),
            Node::Switch(s) => s.process_frame(now, iface, frame, pool, out),
        }
    }

    /// When the node next needs [`Node::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Node::Router(r) => r.poll_timeout(),
            Node::Switch(s) => s.poll_timeout(),
        }
    }

    /// The copies the node made in its last call, as (index in its action list of one copy,
    /// number of copies), for flow accounting; `None` for kinds that never copy. Drained by
    /// the caller.
    #[inline]
    pub fn copies(&mut self) -> Option<&mut Vec<(u32, u32)>> {
        match self {
            Node::Router(_) => None,
            Node::Switch(s) => Some(s.copies_mut()).filter(|c| !c.is_empty()),
        }
    }

    /// Run the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, pool: &mut Pool, out: &mut Vec<Action>) {
        match self {
            Node::Router(r) => r.handle_timeout(now, pool, out),
            Node::Switch(s) => s.handle_timeout(now, pool, out),
        }
    }

    /// Interface `iface`'s carrier came (`up`) or went at `now`: a switch forgets what it
    /// learned on the port and tells spanning tree; a router's interfaces keep their
    /// administrative state (`link set` changes that).
    pub fn set_carrier(
        &mut self,
        now: Instant,
        iface: IfaceId,
        up: bool,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) {
        match self {
            Node::Router(_) => {}
            Node::Switch(s) => s.set_carrier(now, iface.0, up, pool, out),
        }
    }

    /// Number of interfaces (their ids are `0..count`).
    pub fn iface_count(&self) -> usize {
        match self {
            Node::Router(r) => r.ifaces().len(),
            Node::Switch(s) => s.port_count(),
        }
    }

    /// An interface's name.
    pub fn iface_name(&self, iface: IfaceId) -> Option<&str> {
        match self {
            Node::Router(r) => r.iface(iface).map(|i| i.name()),
            Node::Switch(s) => s.port_name(iface),
        }
    }

    /// The same configuration with fresh state (counters, caches), for a node spread over
    /// several workers.
    pub fn replica(&self) -> Node {
        match self {
            Node::Router(r) => Node::Router(r.replica()),
            Node::Switch(s) => Node::Switch(s.replica()),
        }
    }

    /// The router, if the node is one.
    pub fn router(&self) -> Option<&Router> {
        match self {
            Node::Router(r) => Some(r),
            Node::Switch(_) => None,
        }
    }

    /// The router, if the node is one, for configuration or for its application to send.
    pub fn router_mut(&mut self) -> Option<&mut Router> {
        match self {
            Node::Router(r) => Some(r),
            Node::Switch(_) => None,
        }
    }

    /// The switch, if the node is one.
    pub fn switch(&self) -> Option<&Switch> {
        match self {
            Node::Switch(s) => Some(s),
            Node::Router(_) => None,
        }
    }
}
