//! Parsing an instance's JSON configuration into the plugin's own type.

use crate::Error;
use serde::de::DeserializeOwned;

/// Parses the configuration passed to `open`. An empty string counts as `{}`.
/// Errors name the offending field and position so the operator can fix it.
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, Error> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    serde_json::from_str(json).map_err(|e| Error::InvalidConfig(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Conf {
        #[serde(default)]
        path: String,
    }

    #[test]
    fn empty_is_default_and_unknown_fields_are_named() {
        assert_eq!(
            parse::<Conf>("").unwrap(),
            Conf {
                path: String::new()
            }
        );
        let err = parse::<Conf>(r#"{"pth": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `pth`"), "{err}");
    }
}
