//! `testworld`: command-line front of the test world, used by `scripts/testhosts.sh` and
//! `scripts/demo.sh`.
//!
//! ```text
//! testworld up [N] [--port P] [--same-user] [--no-gateway] [--base-url URL]
//! testworld down [DIR…]        (Rust teardown; the script's `down` is the pure-sh twin)
//! testworld status
//! ```
//! `up` leaves the hosts running (detached world) and prints `world.env` plus the host table.

use anyhow::{bail, Result};
use clawkeep_tests::world::{self, GatewayKind, HostMode, World, WorldOptions};
use std::path::PathBuf;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("up") => up(&args[1..]),
        Some("down") => {
            let dirs: Vec<PathBuf> = if args.len() > 1 { args[1..].iter().map(PathBuf::from).collect() } else { world::list_worlds().into_iter().map(|(d, _)| d).collect() };
            for d in dirs {
                println!("tearing down {}", d.display());
                world::teardown_dir(&d)?;
            }
            Ok(())
        }
        Some("status") => {
            for (d, alive) in world::list_worlds() {
                println!("{}  {}", d.display(), if alive { "alive" } else { "LEFTOVER" });
            }
            Ok(())
        }
        _ => {
            eprintln!("usage: testworld up [N] [--port P] [--same-user] [--no-gateway] [--base-url URL] | down [DIR…] | status");
            std::process::exit(2)
        }
    }
}

fn up(args: &[String]) -> Result<()> {
    let mut opts = WorldOptions::hosts(3);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => opts.port = Some(it.next().map(|s| s.parse()).transpose()?.unwrap_or(22)),
            "--same-user" => opts.mode = HostMode::SameUser,
            "--no-gateway" => opts.gateway = GatewayKind::None,
            "--base-url" => opts.base_url = it.next().cloned(),
            n if n.parse::<usize>().is_ok() => opts.hosts = n.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    if opts.mode == HostMode::Root {
        if let Err(e) = clawkeep_tests::sys::preflight_root() {
            bail!("{e}\n(no root? use --same-user: hosts log in as you on 127.0.0.1:220NN)");
        }
    }
    let world = World::start(opts)?;
    let took = world.bring_up;
    let dir = world.dir().to_path_buf();
    let w = world.detach()?;
    print!("{}", std::fs::read_to_string(w.join("world.env"))?);
    print!("{}", std::fs::read_to_string(dir.join("hosts.tsv"))?);
    eprintln!("up in {took:?}; tear down with scripts/testhosts.sh down");
    Ok(())
}
