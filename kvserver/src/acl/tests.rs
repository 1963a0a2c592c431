//! Tests of the user registry and the channel-shrink rule.

use super::*;
use kvproto::Request;

fn user(rules: &[&str]) -> User {
    let mut u = User::new(b"u");
    u.apply_all(rules).unwrap();
    u
}

#[test]
fn channel_permissions_that_shrink() {
    let some = user(&["&a", "&b"]);
    assert!(!channels_shrank(&some, &user(&["&a", "&b", "&c"])));
    assert!(channels_shrank(&some, &user(&["&a"])));
    assert!(!channels_shrank(&some, &user(&["allchannels"])));
    assert!(channels_shrank(&user(&["allchannels"]), &some));
    // A pattern kept in another selector still counts.
    assert!(!channels_shrank(&some, &user(&["&a", "(&b)"])));
}

#[test]
fn users_change_and_the_default_user_follows_requirepass() {
    let acl = Acl::new(None, 16, None);
    assert!(!acl.requires_auth());
    let g = acl.generation();
    acl.set_requirepass(Some(b"pw"));
    assert!(acl.requires_auth() && acl.generation() > g);
    assert!(acl.authenticate(b"default", b"pw").is_some());
    assert!(acl.authenticate(b"default", b"other").is_none());
    acl.set_requirepass(None);
    assert!(acl.authenticate(b"default", b"anything").is_some());
    // A bad rule changes nothing.
    assert!(acl.set_user(b"x", &[b"on", b"+nosuch"]).is_err());
    assert!(acl.user(b"x").is_none());
    acl.set_user(b"x", &[b"on", b">p"]).unwrap();
    assert!(acl.authenticate(b"x", b"p").is_some());
    acl.set_user(b"x", &[b"off"]).unwrap();
    assert!(
        acl.authenticate(b"x", b"p").is_none(),
        "an off user cannot authenticate"
    );
    // A session sees the change at its next check.
    let mut s = SessionUser::new(&acl);
    s.set(acl.user(b"x").unwrap());
    acl.set_user(b"x", &[b"+get"]).unwrap();
    assert!(s.current(&acl).selectors[0].bit(table::lookup(b"get").unwrap()));
    assert_eq!(acl.del_users(&[b"x", b"nosuch"]), 1);
    assert_eq!(s.current(&acl).name, b"default");
}

#[test]
fn the_check_allocates_nothing() {
    let acl = Acl::new(None, 16, None);
    acl.set_user(
        b"app",
        &[
            b"on",
            b"+@all",
            b"~key:*",
            b"%R~ro:*",
            b"&ch*",
            b"(+get ~sel:*)",
        ],
    )
    .unwrap();
    let mut session = SessionUser::new(&acl);
    session.set(acl.user(b"app").unwrap());
    let requests: Vec<Request<'_>> = [
        &[&b"GET"[..], b"key:1"][..],
        &[b"SET", b"key:2", b"v"],
        &[b"MSET", b"key:1", b"a", b"key:2", b"b"],
        &[b"GET", b"sel:1"],
        &[b"GET", b"ro:1"],
        &[b"SET", b"ro:1", b"v"],
        &[b"PUBLISH", b"ch1", b"m"],
        &[b"LMPOP", b"2", b"key:a", b"key:b", b"LEFT"],
    ]
    .iter()
    .map(|args| Request::from_args(args.iter().copied()))
    .collect();
    let slots: Vec<usize> = requests
        .iter()
        .map(|r| table::stat_slot(table::lookup(r.arg(0)).unwrap(), r))
        .collect();
    let mut run = || {
        let mut allowed = 0;
        for (req, &slot) in requests.iter().zip(&slots) {
            allowed += usize::from(session.current(&acl).check(slot, req).is_ok());
        }
        allowed
    };
    // The first pass builds the lazily made tables and the matchers' caches.
    let expected = run();
    assert_eq!(expected, 7, "all but SET of a read-only key");
    let before = crate::memory::thread_allocations();
    for _ in 0..100 {
        assert_eq!(run(), expected);
    }
    assert_eq!(crate::memory::thread_allocations() - before, 0);
}

/// The check's cost per command, printed (not asserted: timings are not tests). Run with
/// `cargo test --release -p kvserver --bin kvserver check_cost -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a test"]
fn check_cost() {
    let acl = Acl::new(None, 16, None);
    acl.set_user(
        b"bench",
        &[
            b"on",
            b"~key:*",
            b"~counter:*",
            b"~mylist",
            b"~myset:*",
            b"~myhash",
            b"~myzset",
            b"&*",
            b"+@all",
        ],
    )
    .unwrap();
    let get = Request::from_args([&b"GET"[..], b"key:000000012345"]);
    let set = Request::from_args([&b"SET"[..], b"key:000000012345", b"xxx"]);
    let slots = [get, set].map(|r| (table::stat_slot(table::lookup(r.arg(0)).unwrap(), &r), r));
    for name in [&b"default"[..], b"bench"] {
        let mut s = SessionUser::new(&acl);
        s.set(acl.user(name).unwrap());
        let n = 2_000_000u32;
        let started = std::time::Instant::now();
        let mut ok = 0u32;
        for i in 0..n {
            let (slot, req) = &slots[(i & 1) as usize];
            ok += u32::from(std::hint::black_box(s.current(&acl).check(*slot, req)).is_ok());
        }
        let ns = started.elapsed().as_nanos() as f64 / f64::from(n);
        assert_eq!(ok, n);
        println!("{}: {ns:.1} ns per check", String::from_utf8_lossy(name));
    }
}
