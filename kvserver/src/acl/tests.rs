//! Tests of the user registry and the channel-shrink rule.

use super::*;

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
