//! The team vault (issue 15): a Git repository on the team's own remote is the shared store.
//!
//! Plain-text metadata per member, scope, instance and key (reviewable in a pull request; never
//! a key value) and one `age` file per secret, encrypted to exactly the admins and the members of
//! the key owner's scope. The pure halves live here: [`layout`] (the repository's files and their
//! one-field-per-line codec, the [`layout::TeamState`] read from them, who may read what),
//! [`verify`] (the judgement over one incoming commit: signed by a current member with rights
//! over every path it touches?), [`merge`] (three-way merge of field edits) and [`crypt`] (age
//! in memory). [`git`] drives the user's own `git` binary; the flows are `api/team.rs`.

pub mod crypt;
pub mod git;
pub mod layout;
pub mod merge;
pub mod verify;
