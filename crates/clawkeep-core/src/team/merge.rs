//! Three-way merge of one metadata file's fields, pure: two members changed the same instance
//! or key at once. Fields changed on one side only merge; a field changed differently on both
//! sides is a conflict that names the field and both values, so nothing is lost.

use std::collections::BTreeSet;

use super::layout::Doc;

/// A field both sides changed differently (`None`: that side removed it).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldConflict {
    pub field: String,
    pub ours: Option<serde_json::Value>,
    pub theirs: Option<serde_json::Value>,
}

/// `base` → `ours` and `base` → `theirs` merged, or every conflicting field.
pub fn merge_fields(base: &Doc, ours: &Doc, theirs: &Doc) -> Result<Doc, Vec<FieldConflict>> {
    let fields: BTreeSet<&String> = base.keys().chain(ours.keys()).chain(theirs.keys()).collect();
    let mut out = Doc::new();
    let mut conflicts = Vec::new();
    for f in fields {
        let (b, o, t) = (base.get(f), ours.get(f), theirs.get(f));
        let pick = if o == t || t == b {
            o
        } else if o == b {
            t
        } else {
            conflicts.push(FieldConflict { field: f.clone(), ours: o.cloned(), theirs: t.cloned() });
            continue;
        };
        if let Some(v) = pick {
            out.insert(f.clone(), v.clone());
        }
    }
    if conflicts.is_empty() {
        Ok(out)
    } else {
        Err(conflicts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(pairs: &[(&str, serde_json::Value)]) -> Doc {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn edits_of_different_fields_merge() {
        let base = doc(&[("ssh_host", json!("10.0.0.1")), ("notes", json!("")), ("tags", json!([]))]);
        let ours = doc(&[("ssh_host", json!("10.0.0.2")), ("notes", json!("")), ("tags", json!([]))]);
        let theirs = doc(&[("ssh_host", json!("10.0.0.1")), ("notes", json!("on call: bob")), ("workload", json!("bot"))]);
        let m = merge_fields(&base, &ours, &theirs).unwrap();
        assert_eq!(m, doc(&[("ssh_host", json!("10.0.0.2")), ("notes", json!("on call: bob")), ("workload", json!("bot"))]));
    }

    #[test]
    fn the_same_field_changed_twice_differently_keeps_both_values() {
        let base = doc(&[("ssh_port", json!(22))]);
        let c = merge_fields(&base, &doc(&[("ssh_port", json!(2222))]), &doc(&[("ssh_port", json!(2200))])).unwrap_err();
        assert_eq!(c, vec![FieldConflict { field: "ssh_port".into(), ours: Some(json!(2222)), theirs: Some(json!(2200)) }]);
        // The same change on both sides is no conflict; a removal against an edit is.
        assert!(merge_fields(&base, &doc(&[("ssh_port", json!(2222))]), &doc(&[("ssh_port", json!(2222))])).is_ok());
        assert_eq!(merge_fields(&base, &Doc::new(), &doc(&[("ssh_port", json!(1))])).unwrap_err()[0].ours, None);
    }
}
