//! The parameter of a `sqlite:` URL that Capacitor reads itself, because sqlx's URL parser does not know it:
//! `synchronous`, the durability of a commit ([`Durability`]). Every place that opens a SQLite URL (the store,
//! the event store, `capgen migrate`) takes it out with [`Durability::from_url`] before sqlx parses the rest.

/// How durable a SQLite commit is: `sqlite:app.db?synchronous=normal`, SQLite's `PRAGMA synchronous` in WAL
/// mode. A URL without the parameter means [`Durability::Full`] for the store, the event store and
/// `capgen migrate` alike (SQLite's and sqlx's own default).
///
/// ```
/// use capacitor_schema::sqlite_url::Durability;
///
/// let (url, durability) = Durability::from_url("sqlite:app.db?mode=rwc&synchronous=full").unwrap();
/// assert_eq!(url, "sqlite:app.db?mode=rwc");
/// assert_eq!(durability, Some(Durability::Full));
/// assert!(Durability::from_url("sqlite:app.db?synchronous=off").is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `normal`, asked for by the URL: a commit writes the WAL without waiting for the disk. A committed
    /// transaction survives the process crashing; the last ones before a power loss or an operating system crash
    /// may be rolled back (never half applied: the database stays consistent).
    Normal,
    /// `full`, the default: every commit waits for the WAL to reach the disk (`fsync`), so it also survives a
    /// power loss.
    Full,
}

impl Durability {
    /// Takes the `synchronous` parameter out of `url`: the URL without it, and the durability it names
    /// (`None` when the URL has none). An unknown value is an error that names it.
    pub fn from_url(url: &str) -> Result<(String, Option<Durability>), String> {
        let Some((database, params)) = url.split_once('?') else {
            return Ok((url.to_owned(), None));
        };
        let mut durability = None;
        let mut kept = Vec::new();
        for param in params.split('&') {
            match param.split_once('=') {
                Some(("synchronous", value)) => {
                    durability = Some(match value.to_ascii_lowercase().as_str() {
                        "normal" => Durability::Normal,
                        "full" => Durability::Full,
                        _ => {
                            return Err(format!(
                                "`synchronous={value}` is not a durability Capacitor runs SQLite with \
                                 (expected `normal` or `full`)"
                            ));
                        }
                    })
                }
                _ => kept.push(param),
            }
        }
        let url = match kept.is_empty() {
            true => database.to_owned(),
            false => format!("{database}?{}", kept.join("&")),
        };
        Ok((url, durability))
    }

    /// The value of `PRAGMA synchronous`.
    pub fn pragma(self) -> &'static str {
        match self {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        }
    }
}
