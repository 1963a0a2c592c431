mod client;
mod compat;
mod concurrency;
mod crash_types;
mod lifecycle;
mod raw;
mod support;
mod types;
