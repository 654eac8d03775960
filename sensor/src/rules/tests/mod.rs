//! Integration-style tests of the rules module (kept inside the module so
//! they move with it into the agent crate).

mod conformance;
mod loading;
mod malformed;
mod output_alert;
mod upstream;
