//! Geo commands over `kvcore::GeoStore`: GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH,
//! GEOSEARCHSTORE, GEORADIUS, GEORADIUS_RO, GEORADIUSBYMEMBER, GEORADIUSBYMEMBER_RO.
//!
//! The searches parse their options in Redis's order and report the first error Redis would:
//! Redis looks the key up (WRONGTYPE) before it parses anything and decodes a FROMMEMBER
//! member where it meets it, so an error found while parsing first asks the store about the
//! key and the members met before it ([`Probe`]). The successful path asks the store once.

use kvcore::{
    GeoFrom, GeoOrder, GeoPoint, GeoQuery, GeoShape, GeoStore, LongDouble, Store, ZAddFlags,
    ZSetStore, format_distance, geo_valid, parse_score,
};
use kvproto::{Request, Writer};

use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, NOT_FLOAT, SYNTAX};
use super::spec::{
    Arg,
    Begin::{Index, Keyword},
    Find::Range,
    Group, a, ks,
};
use super::table::Command;

/// The arguments several geo commands document alike (as Redis's JSON files repeat them).
const UNITS: &[Arg] = &[
    a("m", "pure-token").token("M"),
    a("km", "pure-token").token("KM"),
    a("ft", "pure-token").token("FT"),
    a("mi", "pure-token").token("MI"),
];
const ORDER: Arg = a("order", "oneof").flags("optional").args(&[
    a("asc", "pure-token").token("ASC"),
    a("desc", "pure-token").token("DESC"),
]);
const COUNT: Arg = a("count", "block").flags("optional").args(&[
    a("count", "integer").token("COUNT"),
    a("any", "pure-token").token("ANY").flags("optional"),
]);
const FROM: Arg = a("from", "oneof").args(&[
    a("member", "string").token("FROMMEMBER"),
    a("longitude_latitude", "block")
        .token("FROMLONLAT")
        .args(&[a("longitude", "double"), a("latitude", "double")]),
]);
const BY: Arg = a("by", "oneof").args(&[
    a("circle", "block").args(&[
        a("radius", "double").token("BYRADIUS"),
        a("unit", "oneof").args(UNITS),
    ]),
    a("box", "block").args(&[
        a("width", "double").token("BYBOX"),
        a("height", "double"),
        a("unit", "oneof").args(UNITS),
    ]),
]);

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("geoadd", -5, "write denyoom", geoadd)
        .acl("@geo").keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::Geo, "3.2.0", "Add one or more geospatial items in the geospatial index represented using a sorted set")
        .complexity("O(log(N)) for each item added, where N is the number of elements in the sorted set.")
        .history(&[
            ("6.2.0", "Added the `CH`, `NX` and `XX` options."),
        ])
        .args(&[
            a("key", "key").key(0),
            a("condition", "oneof").since("6.2.0").flags("optional").args(&[
                a("nx", "pure-token").token("NX"),
                a("xx", "pure-token").token("XX"),
            ]),
            a("change", "pure-token").token("CH").since("6.2.0").flags("optional"),
            a("longitude_latitude_member", "block").flags("multiple").args(&[
                a("longitude", "double"),
                a("latitude", "double"),
                a("member", "string"),
            ]),
        ]),
    Command::new("geodist", -4, "readonly", geodist)
        .acl("@geo").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Geo, "3.2.0", "Returns the distance between two members of a geospatial index")
        .complexity("O(log(N))")
        .args(&[
            a("key", "key").key(0),
            a("member1", "string"),
            a("member2", "string"),
            a("unit", "oneof").flags("optional").args(UNITS),
        ]),
    Command::new("geohash", -2, "readonly", geohash)
        .acl("@geo").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Geo, "3.2.0", "Returns members of a geospatial index as standard geohash strings")
        .complexity("O(log(N)) for each member requested, where N is the number of elements in the sorted set.")
        .args(&[
            a("key", "key").key(0),
            a("member", "string").flags("multiple"),
        ]),
    Command::new("geopos", -2, "readonly", geopos)
        .acl("@geo").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Geo, "3.2.0", "Returns longitude and latitude of members of a geospatial index")
        .complexity("O(N) where N is the number of members requested.")
        .args(&[
            a("key", "key").key(0),
            a("member", "string").flags("multiple"),
        ]),
    Command::new("georadius", -6, "write denyoom", georadius)
        .acl("@geo").keys(&[ks("RO access", Index(1), Range(0, 1, 0)), ks("OW update", Keyword("STORE", 6), Range(0, 1, 0)), ks("OW update", Keyword("STOREDIST", 6), Range(0, 1, 0))])
        .doc(Group::Geo, "3.2.0", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point")
        .complexity("O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.")
        .deprecated("6.2.0", "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument")
        .history(&[
            ("6.2.0", "Added the `ANY` option for `COUNT`."),
            ("7.0.0", "Added support for uppercase unit names."),
        ])
        .args(&[
            a("key", "key").key(0),
            a("longitude", "double"),
            a("latitude", "double"),
            a("radius", "double"),
            a("unit", "oneof").args(UNITS),
            a("withcoord", "pure-token").token("WITHCOORD").flags("optional"),
            a("withdist", "pure-token").token("WITHDIST").flags("optional"),
            a("withhash", "pure-token").token("WITHHASH").flags("optional"),
            a("count", "block").flags("optional").args(&[
                a("count", "integer").token("COUNT"),
                a("any", "pure-token").token("ANY").since("6.2.0").flags("optional"),
            ]),
            ORDER,
            a("key", "key").key(1).token("STORE").flags("optional"),
            a("key", "key").key(2).token("STOREDIST").flags("optional"),
        ]),
    Command::new("georadius_ro", -6, "readonly", georadius_ro)
        .acl("@geo").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Geo, "3.2.10", "A read-only variant for GEORADIUS")
        .complexity("O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.")
        .deprecated("6.2.0", "`GEOSEARCH` with the `BYRADIUS` argument")
        .history(&[
            ("6.2.0", "Added the `ANY` option for `COUNT`."),
        ])
        .args(&[
            a("key", "key").key(0),
            a("longitude", "double"),
            a("latitude", "double"),
            a("radius", "double"),
            a("unit", "oneof").args(UNITS),
            a("withcoord", "pure-token").token("WITHCOORD").flags("optional"),
            a("withdist", "pure-token").token("WITHDIST").flags("optional"),
            a("withhash", "pure-token").token("WITHHASH").flags("optional"),
            a("count", "block").flags("optional").args(&[
                a("count", "integer").token("COUNT"),
                a("any", "pure-token").token("ANY").since("6.2.0").flags("optional"),
            ]),
            ORDER,
        ]),
    Command::new("georadiusbymember", -5, "write denyoom", georadiusbymember)
        .acl("@geo").keys(&[ks("RO access", Index(1), Range(0, 1, 0)), ks("OW update", Keyword("STORE", 5), Range(0, 1, 0)), ks("OW update", Keyword("STOREDIST", 5), Range(0, 1, 0))])
        .doc(Group::Geo, "3.2.0", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member")
        .complexity("O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.")
        .deprecated("6.2.0", "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments")
        .history(&[
            ("7.0.0", "Added support for uppercase unit names."),
        ])
        .args(&[
            a("key", "key").key(0),
            a("member", "string"),
            a("radius", "double"),
            a("unit", "oneof").args(UNITS),
            a("withcoord", "pure-token").token("WITHCOORD").flags("optional"),
            a("withdist", "pure-token").token("WITHDIST").flags("optional"),
            a("withhash", "pure-token").token("WITHHASH").flags("optional"),
            COUNT,
            ORDER,
            a("key", "key").key(1).token("STORE").flags("optional"),
            a("key", "key").key(2).token("STOREDIST").flags("optional"),
        ]),
    Command::new("georadiusbymember_ro", -5, "readonly", georadiusbymember_ro)
        .acl("@geo").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Geo, "3.2.10", "A read-only variant for GEORADIUSBYMEMBER")
        .complexity("O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.")
        .deprecated("6.2.0", "`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments")
        .args(&[
            a("key", "key").key(0),
            a("member", "string"),
            a("radius", "double"),
            a("unit", "oneof").args(UNITS),
            a("withcoord", "pure-token").token("WITHCOORD").flags("optional"),
            a("withdist", "pure-token").token("WITHDIST").flags("optional"),
            a("withhash", "pure-token").token("WITHHASH").flags("optional"),
            COUNT,
            ORDER,
        ]),
    Command::new("geosearch", -7, "readonly", geosearch)
        .acl("@geo").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Geo, "6.2.0", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.")
        .complexity("O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape")
        .history(&[
            ("7.0.0", "Added support for uppercase unit names."),
        ])
        .args(&[
            a("key", "key").key(0),
            FROM,
            BY,
            ORDER,
            COUNT,
            a("withcoord", "pure-token").token("WITHCOORD").flags("optional"),
            a("withdist", "pure-token").token("WITHDIST").flags("optional"),
            a("withhash", "pure-token").token("WITHHASH").flags("optional"),
        ]),
    Command::new("geosearchstore", -8, "write denyoom", geosearchstore)
        .acl("@geo").keys(&[ks("OW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Range(0, 1, 0))])
        .doc(Group::Geo, "6.2.0", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.")
        .complexity("O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape")
        .history(&[
            ("7.0.0", "Added support for uppercase unit names."),
        ])
        .args(&[
            a("destination", "key").key(0),
            a("source", "key").key(1),
            FROM,
            BY,
            ORDER,
            COUNT,
            a("storedist", "pure-token").token("STOREDIST").flags("optional"),
        ]),
];

const NO_MEMBER: CmdError = CmdError::Msg("ERR could not decode requested zset member");

/// A double argument as Redis's `getDoubleFromObjectOrReply` reads it, with its message.
fn double(b: &[u8], msg: CmdError) -> Result<f64, CmdError> {
    parse_score(b).ok_or(msg)
}

/// Redis's `extractLongLatOrReply`: two floats, then the range check.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let lon = double(lon, NOT_FLOAT)?;
    let lat = double(lat, NOT_FLOAT)?;
    if !geo_valid(lon, lat) {
        return Err(CmdError::Text(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// Metres per unit (`extractUnitOrReply`).
fn unit(b: &[u8]) -> Result<f64, CmdError> {
    if is(b, "m") {
        Ok(1.0)
    } else if is(b, "km") {
        Ok(1000.0)
    } else if is(b, "ft") {
        Ok(0.3048)
    } else if is(b, "mi") {
        Ok(1609.34)
    } else {
        Err(CmdError::Msg(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ))
    }
}

/// `radius unit` (`extractDistanceOrReply`).
fn radius(r: &[u8], u: &[u8]) -> Result<(GeoShape, f64), CmdError> {
    let r = double(r, CmdError::Msg("ERR need numeric radius"))?;
    if r < 0.0 {
        return Err(CmdError::Msg("ERR radius cannot be negative"));
    }
    Ok((GeoShape::Radius(r), unit(u)?))
}

/// `width height unit` (`extractBoxOrReply`).
fn box_shape(w: &[u8], h: &[u8], u: &[u8]) -> Result<(GeoShape, f64), CmdError> {
    let w = double(w, CmdError::Msg("ERR need numeric width"))?;
    let h = double(h, CmdError::Msg("ERR need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::Msg("ERR height or width cannot be negative"));
    }
    Ok((GeoShape::Box(w, h), unit(u)?))
}

/// A coordinate as Redis prints it: `%.17Lf` with the trailing zeros removed, a double in
/// RESP3.
fn coordinate(w: &mut Writer<'_>, v: f64) {
    w.double_text(LongDouble::from(v).format_human().as_bytes());
}

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]
fn geoadd(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut flags = ZAddFlags::default();
    let mut i = 2;
    while i < req.len() {
        let a = req.arg(i);
        if is(a, "nx") {
            flags.nx = true;
        } else if is(a, "xx") {
            flags.xx = true;
        } else if is(a, "ch") {
            flags.ch = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = req.len() - i;
    if !rest.is_multiple_of(3) || (flags.nx && flags.xx) {
        return Err(SYNTAX);
    }
    let mut items = Vec::with_capacity(rest / 3);
    for j in (i..req.len()).step_by(3) {
        let (lon, lat) = lon_lat(req.arg(j), req.arg(j + 1))?;
        items.push((lon, lat, req.arg(j + 2)));
    }
    if items.is_empty() {
        // ZADD, which GEOADD becomes in Redis, refuses no pairs.
        return Err(SYNTAX);
    }
    let n = ctx.s.db.geoadd(req.arg(1), &items, &flags)?;
    ctx.int(n as i64)
}

/// GEODIST key member1 member2 [unit]
fn geodist(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let to_meters = match req.len() {
        4 => 1.0,
        5 => unit(req.arg(4))?,
        _ => return Err(SYNTAX),
    };
    let d = ctx.s.db.geodist(req.arg(1), req.arg(2), req.arg(3))?;
    let mut w = ctx.w();
    match d {
        Some(d) => w.bulk(format_distance(d / to_meters).as_bytes()),
        None => w.null(),
    }
    Ok(())
}

/// GEOHASH key [member ...]
fn geohash(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let members: Vec<&[u8]> = req.args().skip(2).collect();
    let hashes = ctx.s.db.geohash(req.arg(1), &members)?;
    let mut w = ctx.w();
    w.array_len(hashes.len());
    for h in &hashes {
        match h {
            Some(h) => w.bulk(h),
            None => w.null(),
        }
    }
    Ok(())
}

/// GEOPOS key [member ...]
fn geopos(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let members: Vec<&[u8]> = req.args().skip(2).collect();
    let positions = ctx.s.db.geopos(req.arg(1), &members)?;
    let mut w = ctx.w();
    w.array_len(positions.len());
    for p in positions {
        match p {
            Some((lon, lat)) => {
                w.array_len(2);
                coordinate(&mut w, lon);
                coordinate(&mut w, lat);
            }
            None => w.null_array(),
        }
    }
    Ok(())
}

/// Which search command runs (Redis's `georadiusGeneric` flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// GEORADIUS / GEORADIUS_RO (`ro`: no STORE).
    Radius { ro: bool },
    /// GEORADIUSBYMEMBER / GEORADIUSBYMEMBER_RO.
    ByMember { ro: bool },
    /// GEOSEARCH.
    Search,
    /// GEOSEARCHSTORE.
    SearchStore,
}

impl Kind {
    fn geosearch(self) -> bool {
        matches!(self, Kind::Search | Kind::SearchStore)
    }

    fn store_options(self) -> bool {
        matches!(
            self,
            Kind::Radius { ro: false } | Kind::ByMember { ro: false }
        )
    }
}

/// What the store must be asked when parsing fails: Redis checked the key's type before
/// parsing, and decoded the FROMMEMBER members it met on the way.
struct Probe<'a> {
    db: &'a kvcore::Db,
    key: &'a [u8],
}

impl Probe<'_> {
    /// Whether the key exists; WRONGTYPE if it is not a sorted set.
    fn exists(&self) -> Result<bool, CmdError> {
        Ok(self.db.zcard(self.key)? > 0)
    }

    /// The error Redis reports when parsing fails with `e` after decoding `members`.
    fn fail(&self, members: &[&[u8]], e: CmdError) -> CmdError {
        match self.exists() {
            Err(t) => t,
            Ok(false) => e,
            Ok(true) => match self.db.geopos(self.key, members) {
                Err(t) => t.into(),
                Ok(pos) if pos.iter().any(Option::is_none) => NO_MEMBER,
                Ok(_) => e,
            },
        }
    }
}

/// A parsed search.
struct Search<'r> {
    from: Option<GeoFrom<'r>>,
    shape: Option<(GeoShape, f64)>,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    order: GeoOrder,
    count: Option<(usize, bool)>,
    store: Option<&'r [u8]>,
    store_dist: bool,
}

/// Parses a search in Redis's order; `Err` carries the FROMMEMBER members met before the
/// error (Redis decoded them first).
fn parse<'r>(req: &'r Request<'_>, kind: Kind, probe: &Probe<'_>) -> Result<Search<'r>, CmdError> {
    let mut s = Search {
        from: None,
        shape: None,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        order: GeoOrder::Unsorted,
        count: None,
        store: None,
        store_dist: false,
    };
    let mut members: Vec<&[u8]> = Vec::new();
    let base = match kind {
        Kind::Radius { .. } => {
            let (lon, lat) =
                lon_lat(req.arg(2), req.arg(3)).map_err(|e| probe.fail(&members, e))?;
            s.from = Some(GeoFrom::LonLat(lon, lat));
            s.shape = Some(radius(req.arg(4), req.arg(5)).map_err(|e| probe.fail(&members, e))?);
            6
        }
        Kind::ByMember { .. } => {
            members.push(req.arg(2));
            s.from = Some(GeoFrom::Member(req.arg(2)));
            match radius(req.arg(3), req.arg(4)) {
                Ok(shape) => s.shape = Some(shape),
                // Redis parses neither for a missing key: it answers that it found nothing.
                Err(e) => {
                    if probe.exists()? {
                        return Err(probe.fail(&members, e));
                    }
                }
            }
            5
        }
        Kind::Search => 2,
        Kind::SearchStore => {
            s.store = Some(req.arg(1));
            3
        }
    };
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box, mut any) =
        (false, false, false, false, false);
    let mut count: Option<usize> = None;
    let mut i = base;
    let left = |i: usize| req.len() - i - 1;
    while i < req.len() {
        let a = req.arg(i);
        let fail = |e: CmdError, members: &[&[u8]]| probe.fail(members, e);
        if is(a, "withdist") {
            s.with_dist = true;
        } else if is(a, "withhash") {
            s.with_hash = true;
        } else if is(a, "withcoord") {
            s.with_coord = true;
        } else if is(a, "any") {
            any = true;
        } else if is(a, "asc") {
            s.order = GeoOrder::Asc;
        } else if is(a, "desc") {
            s.order = GeoOrder::Desc;
        } else if is(a, "count") && left(i) >= 1 {
            let n = int_arg(req.arg(i + 1)).map_err(|e| fail(e, &members))?;
            if n <= 0 {
                return Err(fail(CmdError::Msg("ERR COUNT must be > 0"), &members));
            }
            count = Some(usize::try_from(n).unwrap_or(usize::MAX));
            i += 1;
        } else if (is(a, "store") || is(a, "storedist")) && left(i) >= 1 && kind.store_options() {
            s.store = Some(req.arg(i + 1));
            s.store_dist = is(a, "storedist");
            i += 1;
        } else if is(a, "storedist") && kind == Kind::SearchStore {
            s.store_dist = true;
        } else if is(a, "frommember") && left(i) >= 1 && kind.geosearch() && !from_lonlat {
            members.push(req.arg(i + 1));
            s.from = Some(GeoFrom::Member(req.arg(i + 1)));
            from_member = true;
            i += 1;
        } else if is(a, "fromlonlat") && left(i) >= 2 && kind.geosearch() && !from_member {
            let (lon, lat) =
                lon_lat(req.arg(i + 1), req.arg(i + 2)).map_err(|e| fail(e, &members))?;
            s.from = Some(GeoFrom::LonLat(lon, lat));
            from_lonlat = true;
            i += 2;
        } else if is(a, "byradius") && left(i) >= 2 && kind.geosearch() && !by_box {
            s.shape = Some(radius(req.arg(i + 1), req.arg(i + 2)).map_err(|e| fail(e, &members))?);
            by_radius = true;
            i += 2;
        } else if is(a, "bybox") && left(i) >= 3 && kind.geosearch() && !by_radius {
            let shape = box_shape(req.arg(i + 1), req.arg(i + 2), req.arg(i + 3))
                .map_err(|e| fail(e, &members))?;
            s.shape = Some(shape);
            by_box = true;
            i += 3;
        } else {
            return Err(fail(SYNTAX, &members));
        }
        i += 1;
    }
    let fail = |e: CmdError| probe.fail(&members, e);
    if s.store.is_some() && (s.with_dist || s.with_hash || s.with_coord) {
        return Err(fail(CmdError::Msg(if kind == Kind::SearchStore {
            "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        } else {
            "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        })));
    }
    let named = |text: &str| CmdError::Raw([text.as_bytes(), req.arg(0)].concat());
    if kind.geosearch() && !(from_member || from_lonlat) {
        return Err(fail(named(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for ",
        )));
    }
    if kind.geosearch() && !(by_radius || by_box) {
        return Err(fail(named(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for ",
        )));
    }
    if any && count.is_none() {
        return Err(fail(CmdError::Msg(
            "ERR the ANY argument requires COUNT argument",
        )));
    }
    // Redis decoded every FROMMEMBER member as it met it; the search checks the last one.
    if members.len() > 1 {
        let earlier = &members[..members.len() - 1];
        if probe.exists()?
            && probe
                .db
                .geopos(probe.key, earlier)?
                .iter()
                .any(Option::is_none)
        {
            return Err(NO_MEMBER);
        }
    }
    s.count = count.map(|n| (n, any));
    Ok(s)
}

fn search(ctx: &mut Ctx<'_>, req: &Request<'_>, kind: Kind) -> CmdResult {
    let src = if kind == Kind::SearchStore {
        req.arg(2)
    } else {
        req.arg(1)
    };
    let db = ctx.s.db.clone();
    let probe = Probe { db: &db, key: src };
    let s = parse(req, kind, &probe)?;
    let (Some(from), Some((shape, to_meters))) = (s.from, s.shape) else {
        // GEORADIUSBYMEMBER on a missing key with a radius Redis never parsed.
        return match s.store {
            Some(dst) => {
                db.del(&[dst])?;
                ctx.int(0)
            }
            None => ctx.bulks::<&[u8]>(&[]),
        };
    };
    let mut query = GeoQuery::new(from, shape, to_meters).order(s.order);
    if let Some((n, any)) = s.count {
        query = query.count(n, any);
    }
    if matches!(kind, Kind::Radius { .. } | Kind::ByMember { .. }) {
        query = query.legacy();
    }
    if let Some(dst) = s.store {
        let n = db.geosearchstore(dst, src, &query, s.store_dist)?;
        return ctx.int(n as i64);
    }
    let points = db.geosearch(src, &query)?;
    reply_points(&mut ctx.w(), &points, &s);
    Ok(())
}

fn reply_points(w: &mut Writer<'_>, points: &[GeoPoint], s: &Search<'_>) {
    let options = usize::from(s.with_dist) + usize::from(s.with_hash) + usize::from(s.with_coord);
    w.array_len(points.len());
    for p in points {
        if options == 0 {
            w.bulk(&p.member);
            continue;
        }
        w.array_len(options + 1);
        w.bulk(&p.member);
        if s.with_dist {
            w.bulk(format_distance(p.distance).as_bytes());
        }
        if s.with_hash {
            w.integer(p.score as i64);
        }
        if s.with_coord {
            w.array_len(2);
            coordinate(w, p.longitude);
            coordinate(w, p.latitude);
        }
    }
}

fn georadius(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    search(ctx, req, Kind::Radius { ro: false })
}

fn georadius_ro(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    search(ctx, req, Kind::Radius { ro: true })
}

fn georadiusbymember(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    search(ctx, req, Kind::ByMember { ro: false })
}

fn georadiusbymember_ro(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    search(ctx, req, Kind::ByMember { ro: true })
}

fn geosearch(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    search(ctx, req, Kind::Search)
}

fn geosearchstore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    search(ctx, req, Kind::SearchStore)
}
