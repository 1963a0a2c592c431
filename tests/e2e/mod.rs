mod client;
mod concurrency;
mod crash_types;
mod lifecycle;
mod raw;
mod support;
mod types;
