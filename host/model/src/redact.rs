//! Showing URLs without their passwords: one function for every crate that
//! prints a URL it was configured with (status/config, errors, logs, the
//! targets API), as Go's `url.URL.Redacted` does.

use std::borrow::Cow;

/// `url` with the password of its user information replaced by `xxxxx`
/// (`http://user:xxxxx@host/`), as Go's `url.URL.Redacted` and so
/// Prometheus show it; anything else is returned unchanged.
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let Some(scheme_end) = url.find("://") else {
        return Cow::Borrowed(url);
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return Cow::Borrowed(url);
    };
    let Some(colon) = authority[..at].find(':') else {
        return Cow::Borrowed(url);
    };
    let password_start = authority_start + colon + 1;
    let password_end = authority_start + at;
    Cow::Owned(format!(
        "{}xxxxx{}",
        &url[..password_start],
        &url[password_end..]
    ))
}
