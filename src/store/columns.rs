//! Nested columns of the tables vcurate writes: lists of strings and lists of structs, built
//! from records and read back, so nothing nested is stored as JSON text or joined with commas.

use polars::chunked_array::builder::get_list_builder;
use polars::prelude::*;

/// A list-of-strings column, one list per row.
pub fn string_list_column<'a, I, R>(name: &str, rows: I) -> Column
where
    I: ExactSizeIterator<Item = R>,
    R: IntoIterator<Item = &'a str>,
{
    let mut b = ListStringChunkedBuilder::new(name.into(), rows.len(), 0);
    for r in rows {
        b.append_values_iter(r.into_iter());
    }
    b.finish().into_column()
}

/// The lists of a list-of-strings column (a null list reads as empty).
pub fn read_string_lists(df: &DataFrame, name: &str) -> PolarsResult<Vec<Vec<String>>> {
    let col = df.column(name)?;
    let list = col.list()?;
    let mut out = Vec::with_capacity(list.len());
    for s in list.amortized_iter() {
        out.push(match s {
            Some(s) => s
                .as_ref()
                .str()?
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect(),
            None => Vec::new(),
        });
    }
    Ok(out)
}

/// A list-of-structs column: `fields` are the flat struct fields of every item of every row
/// (all of equal length), and `lengths` how many items each row holds, in order.
pub fn struct_list_column(
    name: &str,
    fields: &[Column],
    lengths: &[usize],
) -> PolarsResult<Column> {
    let total: usize = lengths.iter().sum();
    let flat = StructChunked::from_columns(name.into(), total, fields)?.into_series();
    let mut builder = get_list_builder(flat.dtype(), total, lengths.len(), name.into());
    let mut offset = 0;
    for &n in lengths {
        builder.append_series(&flat.slice(offset as i64, n))?;
        offset += n;
    }
    Ok(builder.finish().into_column())
}

/// The items of a list-of-structs column, row by row: `item` reads item `i` of a row from the
/// row's struct fields as a frame (a null list reads as empty).
pub fn read_struct_lists<T>(
    df: &DataFrame,
    name: &str,
    item: impl Fn(&DataFrame, usize) -> PolarsResult<T>,
) -> PolarsResult<Vec<Vec<T>>> {
    let list = df.column(name)?.list()?;
    let mut out = Vec::with_capacity(list.len());
    for s in list.amortized_iter() {
        let Some(s) = s else {
            out.push(Vec::new());
            continue;
        };
        let fields = s.as_ref().struct_()?.clone().unnest();
        out.push(
            (0..fields.height())
                .map(|i| item(&fields, i))
                .collect::<PolarsResult<_>>()?,
        );
    }
    Ok(out)
}

/// The string at row `i` of column `name` (None when null).
pub fn str_at(df: &DataFrame, name: &str, i: usize) -> PolarsResult<Option<String>> {
    Ok(df.column(name)?.str()?.get(i).map(String::from))
}
