mod client;
mod concurrency;
mod lifecycle;
mod raw;
mod support;
mod types;
