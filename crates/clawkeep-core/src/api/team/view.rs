//! What the team vault shows without changing anything: its status (members, roles, scopes,
//! this member's public keys) and the members' audit streams.

use super::*;

impl Clawkeep {
    /// The team's audit streams as last verified (every member's, or `member`'s), newest first,
    /// at most `limit` lines.
    pub fn team_audit(&self, member: Option<&str>, limit: usize) -> Result<Vec<TeamAuditEntry>> {
        let (_row, g) = self.team_clone()?;
        // Only the streams' files are read (the screen asks on every refresh), not the tree.
        let streams: Vec<(String, String)> = g
            .tree("HEAD")?
            .into_iter()
            .filter_map(|(p, oid)| match (layout::classify(&p), oid) {
                (layout::PathKind::Audit(m), Some(oid)) if member.is_none_or(|w| w == m) => Some((m, oid)),
                _ => None,
            })
            .collect();
        let texts = g.objects(&streams.iter().map(|(_, o)| o.as_str()).collect::<Vec<_>>())?;
        let mut out = Vec::new();
        for ((m, _), bytes) in streams.iter().zip(texts) {
            for l in layout::parse_audit(&layout::audit_path(m), &String::from_utf8_lossy(&bytes), 1)? {
                let detail = if l.detail.is_null() { String::new() } else { crate::hosttext::line(&l.detail.to_string(), 2000) };
                let summary = crate::hosttext::line(&l.summary(), 400);
                out.push(TeamAuditEntry {
                    member: m.clone(),
                    at: l.at,
                    action: crate::hosttext::line(&l.action, 80),
                    subject: crate::hosttext::line(&l.subject, 200),
                    summary,
                    detail,
                });
            }
        }
        // Newest first; a member's own lines keep their order when they share a second.
        out.reverse();
        out.sort_by_key(|e| std::cmp::Reverse(e.at));
        out.truncate(limit);
        Ok(out)
    }

    /// Who is in the team and what they may read (from the clone as last verified).
    pub fn team_status(&self) -> Result<TeamStatus> {
        self.team_status_if_joined()?.ok_or_else(|| Error::InvalidState("this data directory has not joined a team yet: join first (it makes your team identity)".into()))
    }

    /// [`Clawkeep::team_status`], or `None` when this data dir has not joined a team yet (the
    /// desktop's Team screen then offers to join).
    pub fn team_status_if_joined(&self) -> Result<Option<TeamStatus>> {
        let Some(row) = self.store.team()? else { return Ok(None) };
        let members: Vec<TeamMemberView> = if row.remote.is_some() {
            let state = self.state_at(&Git::open(&self.team_repo()), "HEAD")?;
            state
                .members
                .values()
                .map(|m| TeamMemberView { name: m.name.clone(), role: m.role, owners: state.scopes.iter().filter(|(_, s)| s.contains(&m.name)).map(|(o, _)| o.clone()).collect() })
                .collect()
        } else {
            Vec::new()
        };
        let role = members.iter().find(|m| m.name == row.member).map(|m| m.role);
        // Public halves only: the recipient is derived from the identity, which stays here.
        let recipient = self.keychain.get(TEAM_IDENTITY_ACCOUNT).ok().and_then(|id| crypt::recipient_of(&id).ok());
        let signing_key = public_key_line(Path::new(&row.signing_key)).ok();
        let last_sync = self.store.last_team_sync()?;
        Ok(Some(TeamStatus { member: row.member, remote: row.remote, verified_head: row.verified_head, members, role, recipient, signing_key, last_sync }))
    }
}
