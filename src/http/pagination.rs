//! Cursor pagination. A cursor is the sort key of the last item served, opaque to clients
//! (base64url of JSON); the next page is everything strictly after it, so pages stay
//! consistent while rows are added.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

impl PageParams {
    /// The validated page size.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::InvalidQuery(format!(
                "limit must be between 1 and {MAX_LIMIT}, got {n}"
            ))),
        }
    }

    /// The decoded cursor, if any.
    pub fn after<K: DeserializeOwned>(&self) -> Result<Option<K>, ApiError> {
        self.cursor.as_deref().map(decode_cursor).transpose()
    }

    /// The validated page size and decoded cursor together.
    pub fn request<K: DeserializeOwned>(&self) -> Result<PageRequest<K>, ApiError> {
        Ok(PageRequest {
            limit: self.limit()?,
            after: self.after()?,
        })
    }

    /// The part of a cache key that names this page.
    pub fn cache_key(&self) -> String {
        format!(
            "limit={}&cursor={}",
            self.limit.unwrap_or(DEFAULT_LIMIT),
            self.cursor.as_deref().unwrap_or("")
        )
    }
}

/// A validated request for one page: at most `limit` items after the key `after`.
#[derive(Debug, Clone)]
pub struct PageRequest<K> {
    pub limit: u32,
    pub after: Option<K>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only says another page exists.
    pub fn from_rows<K: Serialize>(mut rows: Vec<T>, limit: u32, key_of: impl Fn(&T) -> K) -> Self {
        let limit = limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| encode_cursor(&key_of(last)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    // Serialising plain keys (strings, numbers, tuples of them) cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

pub fn decode_cursor<K: DeserializeOwned>(cursor: &str) -> Result<K, ApiError> {
    if cursor.len() > 512 {
        return Err(ApiError::InvalidCursor);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| ApiError::InvalidCursor)?;
    serde_json::from_slice(&bytes).map_err(|_| ApiError::InvalidCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let key = ("Mumbai".to_string(), "cty_1".to_string());
        let cursor = encode_cursor(&key);
        assert_eq!(decode_cursor::<(String, String)>(&cursor).unwrap(), key);
        assert!(decode_cursor::<(String, String)>("not-base64!").is_err());
        assert!(decode_cursor::<(String, String)>(&encode_cursor(&42)).is_err());
    }

    #[test]
    fn extra_row_produces_cursor_of_last_kept_item() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(
            decode_cursor::<i32>(page.next_cursor.as_deref().unwrap()).unwrap(),
            2
        );
        let last = Page::from_rows(vec![1, 2], 2, |n| *n);
        assert!(last.next_cursor.is_none());
    }

    #[test]
    fn limit_is_bounded() {
        let params = |limit| PageParams {
            limit: Some(limit),
            cursor: None,
        };
        assert_eq!(params(100).limit().unwrap(), 100);
        assert!(params(0).limit().is_err());
        assert!(params(101).limit().is_err());
    }
}
