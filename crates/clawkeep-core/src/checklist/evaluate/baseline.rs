//! The host baseline: resources, modes and owners of the state dir and secret files, keys in
//! shell history, world-readable files or OpenClaw's own non-store files.

use super::{sighting, Out};
use crate::checklist::cause::Cause;
use crate::checklist::facts::Facts;
use crate::checklist::hostfacts::{KeySighting, KeySource};
use crate::checklist::types::{CheckResult, Domain, Evidence, Status};
use crate::model::domain::ServiceManager;

/// The host baseline checks (a skip when the host could not be read).
pub fn evaluate(f: &Facts) -> Vec<CheckResult> {
    let mut out = Out::new(f);
    let d = Domain::Boundary;
    let Some(h) = f.host() else {
        if f.gathered.host.is_some() {
            out.skip("host.baseline", d, "host facts unavailable");
        }
        return out.checks;
    };
    // Resources.
    let mem_gb = h.mem_kb.map(|k| k as f64 / 1024.0 / 1024.0);
    let ev = vec![
        Evidence::new("os", h.os.clone()),
        Evidence::new("kernel", h.kernel.clone()),
        Evidence::new("vCPU", h.cpus.map(|c| c.to_string()).unwrap_or_else(|| "?".into())),
        Evidence::new("RAM", mem_gb.map(|g| format!("{g:.1} GB")).unwrap_or_else(|| "?".into())),
    ];
    // 8 GB nominal shows as ~7.6 GB MemTotal.
    if h.cpus.is_some_and(|c| c < 2) || mem_gb.is_some_and(|g| g < 7.5) {
        out.bad("host.resources", Status::Warn, Cause::HostUndersized, "below 2 vCPU / 8 GB RAM", ev);
    } else {
        out.pass("host.resources", d, "at least 2 vCPU and 8 GB RAM", ev);
    }
    // The gateway runs under its systemd unit, not beside it (known only where the script
    // could read the processes' cgroups).
    if let ServiceManager::SystemdUser { unit } = &f.instance.service_manager {
        if h.procs.iter().any(|p| p.in_unit.is_some()) {
            let outside: Vec<Evidence> = h
                .procs
                .iter()
                .filter(|p| p.in_unit == Some(false) && p.cmdline.contains("openclaw"))
                .take(5)
                .map(|p| Evidence::new(format!("pid {}", p.pid), format!("{} (outside the unit)", p.cmdline)))
                .collect();
            let main = Evidence::new("unit MainPID", h.unit_main_pid.map(|p| p.to_string()).unwrap_or_else(|| "none (the unit is not running)".into()));
            if outside.is_empty() {
                out.pass("host.gateway-service", d, format!("the gateway runs under the systemd unit {unit}"), vec![main]);
            } else {
                let n = outside.len();
                let mut ev = outside;
                ev.push(main);
                out.bad("host.gateway-service", Status::Fail, Cause::GatewayOutsideUnit, format!("{n} gateway process(es) started outside the systemd unit {unit}"), ev);
            }
        }
    }
    // Modes and owners.
    let mut mode_ev = vec![];
    let mut owner_ev = vec![];
    for s in &h.stats {
        let want = if s.kind == "state_dir" { 0o700 } else { 0o600 };
        if s.mode & 0o077 != 0 {
            mode_ev.push(Evidence::new(s.path.clone(), format!("mode {:o} (want {:o})", s.mode, want)));
        }
        if h.uid.is_some_and(|u| u != s.uid) {
            owner_ev.push(Evidence::new(s.path.clone(), format!("owned by {} (uid {}), the service user is {}", s.owner, s.uid, h.user)));
        }
    }
    if mode_ev.is_empty() {
        out.pass("host.file-modes", d, "state dir 0700, secret files 0600", vec![Evidence::new("files checked", h.stats.len().to_string())]);
    } else {
        out.bad("host.file-modes", Status::Fail, Cause::FileMode, "secret-bearing files or the state dir are readable by others", mode_ev);
    }
    if owner_ev.is_empty() {
        out.pass("host.file-owners", d, "secret files owned by the service user", vec![]);
    } else {
        out.bad("host.file-owners", Status::Fail, Cause::FileOwner, "secret files not owned by the service user", owner_ev);
    }
    // Keys in shell history and world-readable files.
    let known = |fp: &str| f.keys.iter().find(|k| k.fingerprint == fp).map(|k| format!("key '{}'", k.name)).unwrap_or_else(|| "a key not in the inventory".into());
    for (id, pred, cause, what) in [
        ("host.shell-history", (|s: &KeySource| matches!(s, KeySource::History(_))) as fn(&KeySource) -> bool, Cause::KeyInShellHistory, "shell history"),
        ("host.world-readable", |s: &KeySource| matches!(s, KeySource::WorldReadable(_)), Cause::KeyInWorldReadableFile, "world-readable files"),
        ("host.openclaw-leftovers", |s: &KeySource| matches!(s, KeySource::Leftover(_)), Cause::KeyInOpenclawFile, "OpenClaw's own non-store files"),
    ] {
        let hits: Vec<&KeySighting> = h.keys_from(pred);
        if hits.is_empty() {
            out.pass(id, d, format!("no key in {what}"), vec![]);
        } else {
            let ev = hits.iter().take(10).map(|k| Evidence::new(k.source.describe(), format!("{} = {}", sighting(k), known(&k.fingerprint)))).collect();
            out.bad(id, Status::Fail, cause, format!("{} key(s) found in {what}", hits.len()), ev);
        }
    }
    out.checks
}
