//! shoal's client and shoal's switch, against each other in one process (vde2's own tools are
//! in tests/vde.rs): plugging in, frames both ways, the hub, unplugging, garbage.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::*;

fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shoal-vde-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn frame(pool: &mut Pool, tag: u8, len: usize) -> Frame {
    let mut bytes = vec![tag; len];
    bytes[..6].fill(0xff);
    pool.alloc_from(&bytes).unwrap()
}

/// Receive on `v` until `want` frames came (or a second passed); their first data bytes
/// after the destination MAC.
fn take(v: &mut Vde, pool: &mut Pool, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let until = Instant::now() + Duration::from_secs(1);
    while got.len() < want && Instant::now() < until {
        let mut out = Vec::new();
        v.recv(pool, &mut out);
        for f in out {
            got.push(pool.data(&f)[6]);
            pool.free(f);
        }
    }
    got
}

/// Let the switch take requests until it has `n` clients.
fn settle(s: &mut Vde, pool: &mut Pool, n: usize) {
    let until = Instant::now() + Duration::from_secs(2);
    while let Vde::Listen(srv) = s {
        if srv.clients() == n || Instant::now() > until {
            break;
        }
        let mut out = Vec::new();
        s.recv(pool, &mut out);
        out.into_iter().for_each(|f| pool.free(f));
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn shoal_plugs_into_shoal_and_the_switch_is_a_hub() {
    let d = dir("hub");
    let mut pool = Pool::new(1024).unwrap();
    let mut sw = Vde::open(&VdeSpec::Listen { dir: d.clone() }, "r1:lan").unwrap();
    let plug = |name| {
        let spec = VdeSpec::Plug {
            dir: d.clone(),
            port: None,
        };
        Vde::open(&spec, name).unwrap()
    };
    let mut a = plug("a:eth0");
    let mut b = plug("b:eth0");
    settle(&mut sw, &mut pool, 2);
    // The answers are taken as the clients receive.
    assert!(take(&mut a, &mut pool, 1).is_empty() && take(&mut b, &mut pool, 1).is_empty());
    assert!(a.describe().contains(" port 1"), "{}", a.describe());
    assert!(b.describe().contains(" port 2"), "{}", b.describe());

    // The node's frames reach every client.
    let mut refused = Vec::new();
    let mut frames = vec![frame(&mut pool, 1, 60), frame(&mut pool, 2, 1514)];
    sw.send(&mut pool, &mut frames, &mut refused);
    assert!(refused.is_empty());
    assert_eq!(take(&mut a, &mut pool, 2), [1, 2]);
    assert_eq!(take(&mut b, &mut pool, 2), [1, 2]);

    // A client's frames reach the node, and the other client (a hub), not itself.
    let mut frames = vec![frame(&mut pool, 3, 64)];
    a.send(&mut pool, &mut frames, &mut refused);
    assert_eq!(take(&mut sw, &mut pool, 1), [3]);
    assert_eq!(take(&mut b, &mut pool, 1), [3]);
    assert_eq!(take(&mut a, &mut pool, 1), Vec::<u8>::new());
    assert_eq!(sw.stats().relayed, 1);

    // Unplugging a frees its port; b goes on.
    drop(a);
    settle(&mut sw, &mut pool, 1);
    let st = sw.stats();
    assert_eq!(
        st.unplugged_by[Unplug::Left as usize],
        1,
        "{}",
        sw.describe()
    );
    let mut frames = vec![frame(&mut pool, 4, 64)];
    sw.send(&mut pool, &mut frames, &mut refused);
    assert_eq!(take(&mut b, &mut pool, 1), [4]);
    // Only the control socket and b's data socket remain in the directory.
    let names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // The switch going away unplugs b, which then counts what it sends.
    drop(sw);
    assert!(!d.exists(), "the switch removes its directory");
    let mut out = Vec::new();
    b.recv(&mut pool, &mut out);
    let mut frames = vec![frame(&mut pool, 5, 64)];
    b.send(&mut pool, &mut frames, &mut refused);
    assert!(refused.is_empty());
    let st = b.stats();
    assert_eq!(
        (st.unplugged, st.unplugged_by[Unplug::Gone as usize]),
        (1, 1)
    );
    assert!(b.describe().contains("unplugged"), "{}", b.describe());
    assert_eq!(pool.available(), pool.capacity(), "every frame back");
}

#[test]
fn garbage_and_silence_are_dropped_and_counted_and_others_carry_on() {
    let d = dir("garbage");
    let mut pool = Pool::new(256).unwrap();
    let mut sw = Vde::open(&VdeSpec::Listen { dir: d.clone() }, "r1:lan").unwrap();
    let mut junk = UnixStream::connect(d.join("ctl")).unwrap();
    junk.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let _silent = UnixStream::connect(d.join("ctl")).unwrap();
    // A probe that connects and goes is nobody.
    drop(UnixStream::connect(d.join("ctl")).unwrap());
    let until = Instant::now() + Duration::from_secs(3);
    while sw.stats().unplugged_by[Unplug::Silent as usize] == 0 && Instant::now() < until {
        let mut out = Vec::new();
        sw.recv(&mut pool, &mut out);
        std::thread::sleep(Duration::from_millis(5));
    }
    let st = sw.stats();
    assert_eq!(
        st.unplugged_by[Unplug::Garbage as usize],
        1,
        "{}",
        sw.describe()
    );
    assert_eq!(
        st.unplugged_by[Unplug::Silent as usize],
        1,
        "{}",
        sw.describe()
    );
    assert_eq!(st.plugged, 0);
    // The garbage sender's connection was closed.
    let mut buf = [0u8; 8];
    assert_eq!(std::io::Read::read(&mut junk, &mut buf).unwrap(), 0);
    // A second switch on the same directory is refused while this one lives.
    assert!(matches!(
        Vde::open(&VdeSpec::Listen { dir: d.clone() }, "x"),
        Err(VdeError::InUse(_))
    ));
}
