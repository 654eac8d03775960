//! Integration-style tests of the rules module (kept inside the module so
//! they move with it into the agent crate).

mod actions;
mod conformance;
mod falco_cases;
mod lang_compile;
mod lang_evttypes;
mod lang_modifiers;
mod lang_transformers;
mod libs_parser;
mod libs_parser_transformers;
mod loading;
mod malformed;
mod output_alert;
mod parser_check;
mod program;
mod upstream;
