//! The site's static files (JS, WASM, CSS, `public/`), embedded into the binary at build time
//! so the release binary runs from any directory. Precompressed variants (`.br`, `.gz`, written
//! by `cargo leptos build --precompress`) are served when the client accepts them.

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use rust_embed::RustEmbed;

// In debug builds rust-embed reads these files from disk at run time; in release builds they
// are compiled in.
#[derive(RustEmbed)]
#[folder = "../target/site"]
#[allow_missing = true]
struct Site;

/// The embedded file at `path`, if there is one, answered for a request with `headers`.
pub fn response(path: &str, headers: &HeaderMap) -> Option<Response> {
    let path = path.trim_start_matches('/');
    if path.is_empty() || path.ends_with('/') || path.split('/').any(|segment| segment == "..") {
        return None;
    }
    let accepted = accepted_encodings(headers);
    let (file, encoding) = [("br", ".br"), ("gzip", ".gz")]
        .into_iter()
        .filter(|(name, _)| accepted.contains(name))
        .find_map(|(name, suffix)| Site::get(&format!("{path}{suffix}")).map(|f| (f, Some(name))))
        .or_else(|| Site::get(path).map(|f| (f, None)))?;

    let etag = format!("\"{}\"", hex_prefix(&file.metadata.sha256_hash()));
    let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    let mut response = if if_none_match == Some(etag.as_str()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(file.data.into_owned()))
    };
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(mime.as_ref()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(encoding) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    // File names are stable across releases, so browsers revalidate (cheaply, by ETag).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    Some(response)
}

/// Content codings the client accepts (ignoring those it gives `q=0`).
fn accepted_encodings(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next()?;
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0))
            });
            (!refused && !coding.is_empty()).then_some(coding)
        })
        .collect()
}

fn hex_prefix(hash: &[u8]) -> String {
    hash.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_encodings_are_not_accepted() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0, br;q=0.5, identity"),
        );
        assert_eq!(accepted_encodings(&headers), vec!["br", "identity"]);
    }

    #[test]
    fn paths_escaping_the_site_are_refused() {
        assert!(response("/../Cargo.toml", &HeaderMap::new()).is_none());
        assert!(response("/", &HeaderMap::new()).is_none());
    }
}
