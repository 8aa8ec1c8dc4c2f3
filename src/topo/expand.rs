//! A generated topology written out: every router, host and link of a `[generate]` block as
//! TOML tables, which parse back (through the general validation and route computation) into
//! the same model — what `shoal gen` prints.

use std::collections::BTreeSet;

use super::doc::{Doc, IfaceDoc, LinkDoc, NodeDoc, OneOrMany, Routes, Settings};
use super::{DEFAULT_DELAY_US, DEFAULT_SEED, DEFAULT_TTL, Kind, TopoError, Topology};
use crate::wire::ethernet;

fn spanned<T>(v: T) -> toml::Spanned<T> {
    toml::Spanned::new(0..0, v)
}

impl Topology {
    /// The topology as TOML with every node and link written out: a file's text as written
    /// when it has no `[generate]` block, else what the block makes.
    pub fn expanded_toml(&self) -> Result<String, TopoError> {
        if self.doc.generate.is_none() {
            return self.to_toml();
        }
        Ok(toml::to_string(&self.expanded_doc())?)
    }

    /// What a `[generate]` block makes, as a document: routers, hosts and links with their
    /// addresses, `routes = "auto"`, gateways, and the settings that hold for all (delay, seed,
    /// TTL, the aggregate). Generated topologies carry nothing else (no policy, MTUs, MACs,
    /// link files, devices or impairments), so nothing else is written.
    fn expanded_doc(&self) -> Doc {
        let ttls: BTreeSet<u8> = self.nodes.iter().map(|n| n.ttl).collect();
        let delays: BTreeSet<u64> = (self.links.iter())
            .map(|l| l.delay.as_micros() as u64)
            .collect();
        let ttl = match ttls.iter().collect::<Vec<_>>()[..] {
            [&t] if t != DEFAULT_TTL => Some(spanned(u32::from(t))),
            _ => None,
        };
        let delay_us = match delays.iter().collect::<Vec<_>>()[..] {
            [&d] if d != DEFAULT_DELAY_US => Some(d),
            _ => None,
        };
        let aggregate = (!self.aggregates.is_empty()).then(|| {
            let list = self.aggregates.iter().map(|(p, l)| format!("{p}/{l}"));
            spanned(OneOrMany(list.collect()))
        });
        let node = |i: usize| {
            let n = &self.nodes[i];
            let iface = |(k, f): (usize, &super::Iface)| {
                let [_, a, b, c] = (i as u32).to_be_bytes();
                let default_mac = ethernet::Address([0x02, a, b, c, k as u8, 0]);
                IfaceDoc {
                    name: spanned(f.name.clone()),
                    addr: spanned(OneOrMany(f.addrs.iter().map(|a| a.to_string()).collect())),
                    mtu: (f.mtu != 1500).then(|| spanned(f.mtu)),
                    mac: (f.mac != default_mac).then(|| spanned(f.mac.to_string())),
                    link_file: None,
                    attach: None,
                    vde: None,
                    group: (f.group != 0).then_some(f.group),
                    netem: None,
                }
            };
            NodeDoc {
                name: spanned(n.name.clone()),
                core: n.core,
                workers: None,
                gateway: n.gateway.map(|g| spanned(g.to_string())),
                ttl: None,
                routes: None,
                tables: None,
                rules: Vec::new(),
                marks: Vec::new(),
                iface: OneOrMany(n.ifaces.iter().enumerate().map(iface).collect()),
            }
        };
        let (routers, hosts): (Vec<usize>, Vec<usize>) =
            (0..self.nodes.len()).partition(|&i| self.nodes[i].kind == Kind::Router);
        let links = (self.links.iter())
            .map(|l| LinkDoc {
                ends: (l.ends.iter())
                    .map(|&(n, i)| {
                        let node = &self.nodes[n];
                        spanned(format!("{}:{}", node.name, node.ifaces[i].name))
                    })
                    .collect(),
                delay_us: None,
                netem: None,
            })
            .collect();
        Doc {
            generate: None,
            settings: Settings {
                routes: Some(spanned(Routes::Auto)),
                delay_us,
                seed: (self.seed != DEFAULT_SEED).then_some(self.seed),
                ttl,
                aggregate,
            },
            routers: routers.into_iter().map(node).collect(),
            hosts: hosts.into_iter().map(node).collect(),
            switches: Vec::new(),
            links,
        }
    }
}
