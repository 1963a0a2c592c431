//! Publish/subscribe: one message bus per store, shared by every subscriber, in-process or not.
//!
//! A [`Kv`](crate::Kv) carries a bus. [`Kv::publish`](crate::Kv::publish) sends a message to
//! every subscriber of a channel and of every pattern that matches it, and returns how many
//! subscriptions received it (Redis's PUBLISH count); [`Kv::spublish`](crate::Kv::spublish)
//! does the same for shard channels, which patterns never match (Redis's SPUBLISH).
//!
//! A subscriber is a [`Sink`] registered with [`Kv::subscriber`](crate::Kv::subscriber): the
//! bus hands it [`Event`]s, in bus order, under the bus lock, and the sink queues them
//! wherever it likes. An embedding program uses the ready-made [`Subscription`] (a bounded
//! queue with blocking, timed and non-blocking receive, and an iterator); a server plugs in a
//! sink that encodes each event into its client's output queue. Both listen on the same bus, so
//! a program's `publish` reaches a server's network subscribers and a client's PUBLISH reaches
//! the program's subscriptions.
//!
//! # Order
//!
//! Publishing, subscribing and unsubscribing are serialized by one lock, so every subscriber
//! sees every message, and the confirmations of its own (un)subscriptions, in one global
//! order: a subscription's confirmation comes before the first message it lets through, and
//! an unsubscription's after the last. A message that matches a subscriber's channel and some
//! of its patterns arrives once per subscription, the channel's first, as in Redis.

mod bus;
mod subscription;

pub(crate) use bus::Bus;
pub use bus::{Counts, Delivery, Event, Kind, PendingFlush, Sink, Subscriber};
pub use subscription::{Message, Messages, Subscription, SubscriptionOptions};
