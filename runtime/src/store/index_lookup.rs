//! Index lookups on a store: the rows whose index columns equal given values, in primary key order, one page
//! at a time (keyset pagination on the primary key, so a page boundary is stable under concurrent inserts).
//!
//! SQL stores run one query (`store::sql::index_query`); the in-memory store filters a scan of the table by
//! comparing each row's index columns through their [`Column::write_token`] text.
//!
//! The public `find_by_index` and [`Store::scan`] seal their cursors under the process-wide default
//! [`CursorKey`]; a repository passes its own key (`find_by_index_with`, `scan_with`).

use super::{Backend, Page, Store};
use crate::cursor::{Cursor, CursorKey};
use crate::error::Error;
use crate::record::{Column, ColumnWriter, Record};
use crate::schema::IndexSchema;

/// The values of an index's columns, in index order, as a lookup binds them.
///
/// Implemented for tuples of references to [`Column`] values (`(&email,)`, `(&tenant, &name)`), which is what
/// generated `find_by_…` methods pass.
pub trait IndexValues: Send + Sync {
    /// How many fields the values cover.
    const LEN: usize;

    /// Writes each value, in index order.
    fn write_values<W: ColumnWriter>(&self, out: &mut W);
}

macro_rules! index_values {
    ($len:literal: $($name:ident . $at:tt),+) => {
        impl<$($name: Column),+> IndexValues for ($(&$name,)+) {
            const LEN: usize = $len;
            fn write_values<W: ColumnWriter>(&self, out: &mut W) {
                $(out.column(self.$at);)+
            }
        }
    };
}
index_values!(1: A.0);
index_values!(2: A.0, B.1);
index_values!(3: A.0, B.1, C.2);
index_values!(4: A.0, B.1, C.2, D.3);

/// Which index of `E` a lookup uses.
///
/// Generated `find_by_…` methods pass the schema's own [`IndexSchema`] (`&E::SCHEMA.indexes[i]`), which the
/// runtime uses as it is: the code generator resolved the index once, and no name is looked up again. A
/// hand-written caller may pass the index's name instead (`"users_email_key"`), looked up in
/// [`EntitySchema::indexes`](crate::schema::EntitySchema::indexes); an unknown name is an [`Error::Config`].
pub trait IndexRef: Send + Sync {
    /// The index of `E` this names.
    fn resolve<E: Record>(&self) -> Result<&'static IndexSchema, Error>;
}

impl IndexRef for &'static IndexSchema {
    fn resolve<E: Record>(&self) -> Result<&'static IndexSchema, Error> {
        Ok(self)
    }
}

impl IndexRef for &str {
    fn resolve<E: Record>(&self) -> Result<&'static IndexSchema, Error> {
        let schema = E::SCHEMA;
        schema
            .indexes
            .iter()
            .find(|i| i.name == *self)
            .ok_or_else(|| Error::Config(format!("{} has no index named `{self}`", schema.message)))
    }
}

/// The index `index` names, checked to cover as many fields as the lookup gives values (a hand-written
/// caller's mistake otherwise: generated code passes one value per field).
pub(crate) fn index_of<E: Record>(
    index: &impl IndexRef,
    values: usize,
) -> Result<&'static IndexSchema, Error> {
    let index = index.resolve::<E>()?;
    if index.fields.len() != values {
        return Err(Error::Config(format!(
            "index `{}` of {} has {} field(s), the lookup gave {values}",
            index.name,
            E::SCHEMA.message,
            index.fields.len()
        )));
    }
    Ok(index)
}

/// Collects the text form of each column written, to compare values without knowing their types.
struct Tokens(Vec<String>);

impl ColumnWriter for Tokens {
    fn column<T: Column>(&mut self, value: &T) {
        let mut text = String::new();
        value.write_token(&mut text);
        self.0.push(text);
    }
}

/// The tokens of the columns of `fields` in `value`, in `fields` order.
pub(crate) fn field_tokens<E: Record>(value: &E, fields: &[u32]) -> Vec<String> {
    let mut row = Tokens(Vec::new());
    value.write_row(&mut row);
    // `write_row` writes one value per stored field, in declaration order.
    let stored: Vec<u32> = crate::record::stored_columns(E::SCHEMA)
        .map(|(f, _)| f.number)
        .collect();
    fields
        .iter()
        .filter_map(|n| stored.iter().position(|s| s == n))
        .map(|at| row.0[at].clone())
        .collect()
}

/// The token texts of lookup values, comparable with [`field_tokens`].
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn value_tokens<V: IndexValues>(values: &V) -> Vec<String> {
    let mut wanted = Tokens(Vec::new());
    values.write_values(&mut wanted);
    wanted.0
}

impl Store {
    /// Up to `limit` rows whose columns of `index` (see [`IndexRef`]) equal `values`, in primary key order, after
    /// the cursor
    /// `after`. The page's `next` is the cursor to pass as `after` for the following page; cursors are sealed
    /// under the process-wide [`default_key`](crate::cursor::default_key).
    ///
    /// [`Error::InvalidCursor`] for a cursor that is not `E`'s, [`Error::InvalidLimit`] for a `limit` of zero
    /// or above [`MAX_PAGE_LIMIT`](crate::cursor::MAX_PAGE_LIMIT).
    ///
    /// Reads the store (the source of truth) directly, never a cache, so a lookup never returns a version
    /// older than the last acknowledged write.
    ///
    /// Equality is SQL's on every store: a `None` value (an optional field's NULL) matches no row.
    pub async fn find_by_index<E: Record, V: IndexValues>(
        &self,
        index: impl IndexRef,
        values: &V,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<E>, Error> {
        let with = crate::cursor::default_key()?;
        self.find_by_index_with(index, values, after, limit, Some(with))
            .await
    }

    /// [`find_by_index`](Self::find_by_index) with cursors sealed under `with`; with `None`, no cursors (`after`
    /// is ignored and `next` is `None`), for unique lookups, which need no key.
    pub(crate) async fn find_by_index_with<E: Record, V: IndexValues>(
        &self,
        index: impl IndexRef,
        values: &V,
        after: Option<&Cursor>,
        limit: usize,
        with: Option<&CursorKey>,
    ) -> Result<Page<E>, Error> {
        let index = index_of::<E>(&index, V::LEN)?;
        crate::cursor::check_limit::<E>(limit)?;
        let after = match with {
            Some(with) => crate::cursor::key_under::<E>(after, with)?,
            None => None,
        };
        let after = after.as_ref();
        match &self.backend {
            Backend::Memory(m) => {
                let mut wanted = Tokens(Vec::new());
                values.write_values(&mut wanted);
                // SQL equality: NULL equals nothing, so a `None` value matches no row on every store.
                if wanted.0.iter().any(|t| t == "n;") {
                    return Ok(Page {
                        items: Vec::new(),
                        next: None,
                    });
                }
                // A full scan: the memory store is for tests and ephemeral data.
                let (all, _) = m.rows_after::<E>(after, usize::MAX);
                let mut items: Vec<_> = all
                    .into_iter()
                    .filter(|v| field_tokens(&v.value, index.fields) == wanted.0)
                    .take(limit.saturating_add(1))
                    .collect();
                let more = items.len() > limit;
                items.truncate(limit);
                let next = match (more, with) {
                    (true, Some(with)) => items
                        .last()
                        .map(|v| Cursor::seal::<E>(&v.value.key(), with)),
                    _ => None,
                };
                Ok(Page { items, next })
            }
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => s.find_by_index(index, values, after, limit, with).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.find_by_index(index, values, after, limit, with).await,
        }
    }

    /// [`Store::scan`] with cursors sealed under `with`.
    pub(crate) async fn scan_with<E: Record>(
        &self,
        after: Option<&Cursor>,
        limit: usize,
        with: &CursorKey,
    ) -> Result<Page<E>, Error> {
        crate::cursor::check_limit::<E>(limit)?;
        let after = crate::cursor::key_under::<E>(after, with)?;
        let after = after.as_ref();
        match &self.backend {
            Backend::Memory(m) => Ok(m.scan::<E>(after, limit, with)),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => s.scan::<E>(after, limit, with).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.scan::<E>(after, limit, with).await,
        }
    }
}
