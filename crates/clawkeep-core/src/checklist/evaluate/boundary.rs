//! Boundary: keys bound to other instances of the inventory, found on this host.

use super::{sighting, Out};
use crate::checklist::cause::Cause;
use crate::checklist::facts::Facts;
use crate::checklist::types::{CheckResult, Domain, Evidence, Status};

/// The boundary check (with host facts only; the shared-key finding is the fleet's).
pub fn evaluate(f: &Facts) -> Vec<CheckResult> {
    let mut out = Out::new(f);
    let d = Domain::Boundary;
    let Some(h) = f.host() else { return out.checks };
    // Keys of other instances on this host (any source).
    let mut ev = vec![];
    for k in &h.keys {
        if let Some(owner) = f.keys.iter().find(|x| x.fingerprint == k.fingerprint && x.instance.as_deref().is_some_and(|i| i != f.instance.name)) {
            if k.source.is_copy() {
                continue;
            }
            ev.push(Evidence::new(k.source.describe(), format!("{} = key '{}' of instance '{}'", sighting(k), owner.name, owner.instance.as_deref().unwrap_or("-"))));
        }
    }
    if ev.is_empty() {
        out.pass("boundary.foreign-keys", d, "no key of another instance on this host", vec![]);
    } else {
        out.bad("boundary.foreign-keys", Status::Fail, Cause::KeyOfOtherInstance, "this host holds a key bound to another instance", ev);
    }
    out.checks
}
