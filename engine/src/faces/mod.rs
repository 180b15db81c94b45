//! Faces: the one face of a dossier's photo found, described and cut out ([`extract`]), the
//! vectors of photos stored before the engine ran ([`backfill`]), and every face of a photo
//! compared with every vector of the installation's model ([`search`]), whose results the page
//! reads back ([`recent`]).

pub mod backfill;
pub mod extract;
pub mod recent;
pub mod search;
