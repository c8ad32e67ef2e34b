//! One file per aggregate: `X` (a row read), `NewX` (a row to insert), `XChanges` (an update),
//! and the queries that serve them. No HTTP and no protocol here: just rows.

pub mod audit;
pub mod broker;
pub mod client_scopes;
pub mod clients;
pub mod directory;
pub mod federated;
pub mod fingerprints;
pub mod group;
pub mod keys;
pub mod membership;
pub mod organization;
pub mod realm;
pub mod roles;
pub mod sessions;
pub mod user;
