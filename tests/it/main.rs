//! Integration tests: one binary, real daemons and CLI processes.

mod helpers;

mod core;
