//! The cross-check: the same path driven by Debian's `trafgen` (netsniff-ng) instead of
//! shoal's generator, counted by the same sink (as unstamped datagrams). The two delivered
//! rates should agree within 10%; the table flags them where they do not.

use std::time::Instant;

use anyhow::{Context, bail};

use super::rig::{self, Run};

/// Delivered datagrams per second with trafgen sending on the generator's core at `pps`, the
/// rate shoal's generator offered (the same load, so the two deliveries are comparable).
pub fn measure(run: &Run, pps: f64) -> anyhow::Result<f64> {
    if std::process::Command::new("trafgen")
        .arg("--version")
        .output()
        .is_err()
    {
        bail!("trafgen is not installed (apt-get install netsniff-ng); or pass --no-trafgen");
    }
    let p = rig::prepare(run)?;
    let (src, dst) = (p.mac("t1")?, p.ingress_mac()?);
    let fill = run.frame.max(crate::engine::MIN_FRAME) - 42;
    let dir = tempfile::tempdir()?;
    let conf = dir.path().join("udp.cfg");
    std::fs::write(
        &conf,
        format!(
            "{{ eth(da={dst}, sa={src}, type=0x0800), ipv4(sa=10.1.0.2, da=10.2.0.2, ttl=64), \
             udp(sp={port}, dp={port}), fill(0x00, {fill}) }}\n",
            port = rig::PORT
        ),
    )?;
    let t0 = Instant::now();
    // trafgen stops on SIGINT; `timeout` sends it after the run's length.
    let out = p
        .traffic()
        .command("timeout")
        .args(["-s", "INT", &run.seconds.to_string()])
        .args(["taskset", "-c", &rig::GEN_CORE.to_string()])
        .args(["trafgen", "-o", "t1", "--cpus", "1", "-q"])
        .args(["-b", &format!("{}pps", pps.max(1.0) as u64), "--conf"])
        .arg(&conf)
        .output()
        .context("running trafgen")?;
    let elapsed = t0.elapsed().as_secs_f64();
    let report = p.finish()?;
    if report.sink.unstamped == 0 {
        bail!(
            "nothing trafgen sent arrived: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(report.sink.unstamped as f64 / elapsed)
}
