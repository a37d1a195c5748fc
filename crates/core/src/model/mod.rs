//! Domain types and the message contracts shared between functions.

pub mod birthday;
