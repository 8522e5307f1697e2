//! Go's `html/template` contextual autoescaping (`escape.go`, `transition.go`, `html.go`, `url.go`,
//! `css.go`), for the contexts notification templates use: HTML text, RCDATA (`<title>`,
//! `<textarea>`), attribute values (quoted or not), URL attributes (`href`, `src`, … with the URL
//! filter, normalizer and query escaper by position in the URL), tag and attribute names, CSS values
//! (`style` attributes and elements, through Go's `cssValueFilter`), and comments (elided from the
//! output, as Go does), and JavaScript (`<script>`, `on*` attributes: values, strings, regular
//! expressions and comments, see `html_js.rs`). An action inside a JavaScript template literal or a
//! CSS string is refused rather than escaped wrongly.
//!
//! Where this differs from Go: contexts are tracked as the template runs rather than computed before
//! it runs, so branches that end in different contexts are not refused (Go refuses them when parsing);
//! a pipeline ending in `html` or `urlquery` has the escapers after the equivalent one applied (Go also
//! applies those before it, which only matters at the start of a URL attribute).

use crate::html_escapers::{
    css_value_filter, html_norm_table, html_replace, html_table, is_safe_url, nospace_norm_table,
    nospace_table, process_url,
};
use crate::html_js::{
    Delimited, JsCtx, delimited_end, js_regexp_escape, js_str_escape, js_val_escape, next_js_ctx,
};
use crate::value::Value;

/// The type name `html/template`'s `HTML` values carry (Alertmanager's `safeHtml` returns one).
pub const HTML_TYPE: &str = "template.HTML";
/// The type name `html/template`'s `URL` values carry (Alertmanager's `safeUrl` returns one).
pub const URL_TYPE: &str = "template.URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) enum State {
    #[default]
    Text,
    Tag,
    AttrName,
    AfterName,
    BeforeValue,
    HtmlCmt,
    Rcdata,
    Attr,
    Url,
    Css,
    CssDqStr,
    CssSqStr,
    CssLineCmt,
    CssBlockCmt,
    Js,
    JsDqStr,
    JsSqStr,
    JsBqStr,
    JsRegexp,
    JsLineCmt,
    JsBlockCmt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) enum Delim {
    #[default]
    None,
    Double,
    Single,
    SpaceOrTagEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) enum UrlPart {
    #[default]
    None,
    PreQuery,
    QueryOrFrag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) enum Element {
    #[default]
    None,
    Script,
    Style,
    Textarea,
    Title,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) enum AttrKind {
    #[default]
    None,
    Script,
    Style,
    Url,
}

/// Where in an HTML document the output is (Go's `context`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Context {
    state: State,
    delim: Delim,
    url_part: UrlPart,
    element: Element,
    attr: AttrKind,
    js_ctx: JsCtx,
}

impl Context {
    /// Whether this is where a template must end (Go refuses templates that end elsewhere).
    pub(crate) fn is_text(&self) -> bool {
        self.state == State::Text
    }
}

/// Go's `context.String()`: `{stateURL delimDoubleQuote urlPartNone jsCtxRegexp attrURL elementNone
/// <nil>}`.
impl std::fmt::Display for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Text => "stateText",
            State::Tag => "stateTag",
            State::AttrName => "stateAttrName",
            State::AfterName => "stateAfterName",
            State::BeforeValue => "stateBeforeValue",
            State::HtmlCmt => "stateHTMLCmt",
            State::Rcdata => "stateRCDATA",
            State::Attr => "stateAttr",
            State::Url => "stateURL",
            State::Css => "stateCSS",
            State::CssDqStr => "stateCSSDqStr",
            State::CssSqStr => "stateCSSSqStr",
            State::CssLineCmt => "stateCSSLineCmt",
            State::CssBlockCmt => "stateCSSBlockCmt",
            State::Js => "stateJS",
            State::JsDqStr => "stateJSDqStr",
            State::JsSqStr => "stateJSSqStr",
            State::JsBqStr => "stateJSBqStr",
            State::JsRegexp => "stateJSRegexp",
            State::JsLineCmt => "stateJSLineCmt",
            State::JsBlockCmt => "stateJSBlockCmt",
        };
        let delim = match self.delim {
            Delim::None => "delimNone",
            Delim::Double => "delimDoubleQuote",
            Delim::Single => "delimSingleQuote",
            Delim::SpaceOrTagEnd => "delimSpaceOrTagEnd",
        };
        let url = match self.url_part {
            UrlPart::None => "urlPartNone",
            UrlPart::PreQuery => "urlPartPreQuery",
            UrlPart::QueryOrFrag => "urlPartQueryOrFrag",
        };
        let attr = match self.attr {
            AttrKind::None => "attrNone",
            AttrKind::Script => "attrScript",
            AttrKind::Style => "attrStyle",
            AttrKind::Url => "attrURL",
        };
        let element = match self.element {
            Element::None => "elementNone",
            Element::Script => "elementScript",
            Element::Style => "elementStyle",
            Element::Textarea => "elementTextarea",
            Element::Title => "elementTitle",
        };
        let js = match self.js_ctx {
            JsCtx::Regexp => "jsCtxRegexp",
            JsCtx::DivOp => "jsCtxDivOp",
        };
        write!(f, "{{{state} {delim} {url} {js} {attr} {element} <nil>}}")
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r')
}

fn eat_space(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    i
}

fn eat_tag_name(s: &[u8], i: usize) -> (usize, Element) {
    if i >= s.len() || !s[i].is_ascii_alphabetic() {
        return (i, Element::None);
    }
    let mut j = i + 1;
    while j < s.len() {
        let x = s[j];
        if x.is_ascii_alphanumeric() {
            j += 1;
        } else if (x == b':' || x == b'-') && j + 1 < s.len() && s[j + 1].is_ascii_alphanumeric() {
            j += 2;
        } else {
            break;
        }
    }
    let e = match s[i..j].to_ascii_lowercase().as_slice() {
        b"script" => Element::Script,
        b"style" => Element::Style,
        b"textarea" => Element::Textarea,
        b"title" => Element::Title,
        _ => Element::None,
    };
    (j, e)
}

fn eat_attr_name(s: &[u8], i: usize) -> Result<usize, String> {
    for (j, &b) in s.iter().enumerate().skip(i) {
        match b {
            b' ' | b'\t' | b'\n' | b'\x0c' | b'\r' | b'=' | b'>' => return Ok(j),
            b'\'' | b'"' | b'<' => {
                return Err(format!(
                    "{} in attribute name: {}",
                    crate::gofmt::quote(&(b as char).to_string()),
                    crate::gofmt::quote(&String::from_utf8_lossy(&s[..s.len().min(32)]))
                ));
            }
            _ => {}
        }
    }
    Ok(s.len())
}

/// Go's `attrType`: what an attribute's value holds.
fn attr_kind(name: &str) -> AttrKind {
    let name = name
        .strip_prefix("data-")
        .unwrap_or(name)
        .rsplit_once(':')
        .map_or(name, |(ns, local)| if ns == "xmlns" { name } else { local });
    if name.starts_with("on") {
        return AttrKind::Script;
    }
    match name {
        "action" | "archive" | "background" | "cite" | "classid" | "codebase" | "data"
        | "formaction" | "href" | "icon" | "longdesc" | "manifest" | "poster" | "profile"
        | "src" | "usemap" | "xmlns" => AttrKind::Url,
        "style" => AttrKind::Style,
        _ if name.contains("src") || name.contains("uri") || name.contains("url") => AttrKind::Url,
        _ => AttrKind::None,
    }
}

fn element_content(e: Element) -> State {
    match e {
        Element::None => State::Text,
        Element::Script => State::Js,
        Element::Style => State::Css,
        Element::Textarea | Element::Title => State::Rcdata,
    }
}

/// One transition: the context after a prefix of `s` and that prefix's length.
fn transition(c: Context, s: &[u8]) -> Result<(Context, usize), String> {
    Ok(match c.state {
        State::Text => t_text(c, s),
        State::Tag => return t_tag(c, s),
        State::AttrName => {
            let i = eat_attr_name(s, 0)?;
            let mut c = c;
            if i != s.len() {
                c.state = State::AfterName;
            }
            (c, i)
        }
        State::AfterName => {
            let i = eat_space(s, 0);
            let mut c = c;
            if i == s.len() {
                return Ok((c, s.len()));
            }
            if s[i] != b'=' {
                c.state = State::Tag;
                return Ok((c, i));
            }
            c.state = State::BeforeValue;
            (c, i + 1)
        }
        State::BeforeValue => {
            let mut i = eat_space(s, 0);
            let mut c = c;
            if i == s.len() {
                return Ok((c, s.len()));
            }
            let delim = match s[i] {
                b'\'' => {
                    i += 1;
                    Delim::Single
                }
                b'"' => {
                    i += 1;
                    Delim::Double
                }
                _ => Delim::SpaceOrTagEnd,
            };
            c.state = attr_start(c.attr);
            c.delim = delim;
            (c, i)
        }
        State::HtmlCmt => match find(s, b"-->") {
            Some(i) => (Context::default(), i + 3),
            None => (c, s.len()),
        },
        State::Url => {
            let mut c = c;
            if s.iter().any(|&b| b == b'#' || b == b'?') {
                c.url_part = UrlPart::QueryOrFrag;
            } else if s.len() != eat_space(s, 0) && c.url_part == UrlPart::None {
                c.url_part = UrlPart::PreQuery;
            }
            (c, s.len())
        }
        State::Css => t_css(c, s),
        State::CssDqStr | State::CssSqStr => {
            let q = if c.state == State::CssDqStr {
                b'"'
            } else {
                b'\''
            };
            let mut k = 0;
            loop {
                match s[k..].iter().position(|&b| b == q || b == b'\\') {
                    None => return Ok((c, s.len())),
                    Some(p) => {
                        let i = k + p;
                        if s[i] == b'\\' {
                            k = i + 2;
                            if k > s.len() {
                                return Ok((c, s.len()));
                            }
                        } else {
                            let mut c = c;
                            c.state = State::Css;
                            return Ok((c, i + 1));
                        }
                    }
                }
            }
        }
        State::CssLineCmt => match s.iter().position(|&b| matches!(b, b'\n' | b'\x0c' | b'\r')) {
            Some(i) => (
                Context {
                    state: State::Css,
                    ..c
                },
                i,
            ),
            None => (c, s.len()),
        },
        State::CssBlockCmt => match find(s, b"*/") {
            Some(i) => (
                Context {
                    state: State::Css,
                    ..c
                },
                i + 2,
            ),
            None => (c, s.len()),
        },
        State::Js => t_js(c, s),
        State::JsDqStr | State::JsSqStr | State::JsBqStr | State::JsRegexp => {
            let kind = match c.state {
                State::JsDqStr => Delimited::DoubleQuote,
                State::JsSqStr => Delimited::SingleQuote,
                State::JsBqStr => Delimited::BackQuote,
                _ => Delimited::Regexp,
            };
            match delimited_end(kind, s)? {
                Some(i) => (
                    Context {
                        state: State::Js,
                        js_ctx: JsCtx::DivOp,
                        ..c
                    },
                    i,
                ),
                None => (c, s.len()),
            }
        }
        State::JsLineCmt => {
            let t = String::from_utf8_lossy(s);
            match t.find(['\n', '\r', '\u{2028}', '\u{2029}']) {
                Some(i) if i <= s.len() => (
                    Context {
                        state: State::Js,
                        ..c
                    },
                    i,
                ),
                _ => (c, s.len()),
            }
        }
        State::JsBlockCmt => match find(s, b"*/") {
            Some(i) => (
                Context {
                    state: State::Js,
                    ..c
                },
                i + 2,
            ),
            None => (c, s.len()),
        },
        State::Rcdata | State::Attr => (c, s.len()),
    })
}

fn attr_start(a: AttrKind) -> State {
    match a {
        AttrKind::None => State::Attr,
        AttrKind::Script => State::Js,
        AttrKind::Style => State::Css,
        AttrKind::Url => State::Url,
    }
}

fn find(s: &[u8], pat: &[u8]) -> Option<usize> {
    s.windows(pat.len()).position(|w| w == pat)
}

fn t_text(c: Context, s: &[u8]) -> (Context, usize) {
    let mut k = 0;
    loop {
        let Some(p) = s[k..].iter().position(|&b| b == b'<') else {
            return (c, s.len());
        };
        let mut i = k + p;
        if i + 1 == s.len() {
            return (c, s.len());
        }
        if s[i..].starts_with(b"<!--") {
            return (
                Context {
                    state: State::HtmlCmt,
                    ..Context::default()
                },
                i + 4,
            );
        }
        i += 1;
        let mut end = false;
        if s[i] == b'/' {
            if i + 1 == s.len() {
                return (c, s.len());
            }
            end = true;
            i += 1;
        }
        let (j, e) = eat_tag_name(s, i);
        if j != i {
            return (
                Context {
                    state: State::Tag,
                    element: if end { Element::None } else { e },
                    ..Context::default()
                },
                j,
            );
        }
        k = j;
    }
}

fn t_tag(c: Context, s: &[u8]) -> Result<(Context, usize), String> {
    let i = eat_space(s, 0);
    if i == s.len() {
        return Ok((c, s.len()));
    }
    if s[i] == b'>' {
        return Ok((
            Context {
                state: element_content(c.element),
                element: c.element,
                ..Context::default()
            },
            i + 1,
        ));
    }
    let j = eat_attr_name(s, i)?;
    if i == j {
        return Err(format!(
            "expected space, attr name, or end of tag, but got {}",
            crate::gofmt::quote(&String::from_utf8_lossy(&s[i..]))
        ));
    }
    let name = String::from_utf8_lossy(&s[i..j]).to_ascii_lowercase();
    let attr = if c.element == Element::Script && name == "type" {
        AttrKind::None
    } else {
        attr_kind(&name)
    };
    let state = if j == s.len() {
        State::AttrName
    } else {
        State::AfterName
    };
    Ok((
        Context {
            state,
            element: c.element,
            attr,
            ..Context::default()
        },
        j,
    ))
}

/// Go's `tJS`.
fn t_js(c: Context, s: &[u8]) -> (Context, usize) {
    let mut c = c;
    let Some(mut i) = s
        .iter()
        .position(|b| matches!(b, b'"' | b'\'' | b'`' | b'/'))
    else {
        c.js_ctx = next_js_ctx(s, c.js_ctx);
        return (c, s.len());
    };
    c.js_ctx = next_js_ctx(&s[..i], c.js_ctx);
    match s[i] {
        b'"' => (c.state, c.js_ctx) = (State::JsDqStr, JsCtx::Regexp),
        b'\'' => (c.state, c.js_ctx) = (State::JsSqStr, JsCtx::Regexp),
        b'`' => (c.state, c.js_ctx) = (State::JsBqStr, JsCtx::Regexp),
        _ => {
            if s.get(i + 1) == Some(&b'/') {
                c.state = State::JsLineCmt;
                i += 1;
            } else if s.get(i + 1) == Some(&b'*') {
                c.state = State::JsBlockCmt;
                i += 1;
            } else if c.js_ctx == JsCtx::Regexp {
                c.state = State::JsRegexp;
            } else {
                c.js_ctx = JsCtx::Regexp;
            }
        }
    }
    (c, i + 1)
}

fn t_css(c: Context, s: &[u8]) -> (Context, usize) {
    let mut k = 0;
    loop {
        let Some(p) = s[k..]
            .iter()
            .position(|&b| matches!(b, b'"' | b'\'' | b'/'))
        else {
            return (c, s.len());
        };
        let i = k + p;
        let mut c = c;
        match s[i] {
            b'/' if i + 1 < s.len() && s[i + 1] == b'/' => {
                c.state = State::CssLineCmt;
                return (c, i + 2);
            }
            b'/' if i + 1 < s.len() && s[i + 1] == b'*' => {
                c.state = State::CssBlockCmt;
                return (c, i + 2);
            }
            b'"' => {
                c.state = State::CssDqStr;
                return (c, i + 1);
            }
            b'\'' => {
                c.state = State::CssSqStr;
                return (c, i + 1);
            }
            _ => {}
        }
        k = i + 1;
    }
}

fn special_tag_end(c: Context, s: &[u8]) -> Option<usize> {
    let tag: &[u8] = match c.element {
        Element::None => return None,
        Element::Script => b"script",
        Element::Style => b"style",
        Element::Textarea => b"textarea",
        Element::Title => b"title",
    };
    let mut off = 0;
    while let Some(i) = find(&s[off..], b"</") {
        let at = off + i;
        let rest = &s[at + 2..];
        if rest.len() > tag.len()
            && rest[..tag.len()].eq_ignore_ascii_case(tag)
            && matches!(
                rest[tag.len()],
                b'>' | b' ' | b'\t' | b'\n' | b'\x0c' | b'/'
            )
        {
            return Some(at);
        }
        off = at + 2;
    }
    None
}

fn is_comment(s: State) -> bool {
    matches!(
        s,
        State::HtmlCmt
            | State::CssLineCmt
            | State::CssBlockCmt
            | State::JsLineCmt
            | State::JsBlockCmt
    )
}

/// Where the special element's end tag is in a text, remembered across the transitions of one
/// text so that a long text is searched once per element: (element, searched from, found at).
type TagEndMemo = Option<(Element, usize, Option<usize>)>;

/// [`special_tag_end`] of `text[at..]`, through the memo.
fn special_tag_end_memo(
    c: Context,
    text: &[u8],
    at: usize,
    memo: &mut TagEndMemo,
) -> Option<usize> {
    if c.element == Element::None {
        return None;
    }
    if let Some((e, from, found)) = *memo
        && e == c.element
        && from <= at
        && found.is_none_or(|f| f >= at)
    {
        return found.map(|f| f - at);
    }
    let found = special_tag_end(c, &text[at..]).map(|f| f + at);
    *memo = Some((c.element, at, found));
    found.map(|f| f - at)
}

/// Go's `contextAfterText` for `text[at..]`.
fn after_text(
    c: Context,
    text: &[u8],
    at: usize,
    memo: &mut TagEndMemo,
) -> Result<(Context, usize), String> {
    let s = &text[at..];
    if c.delim == Delim::None {
        let end = match special_tag_end_memo(c, text, at, memo) {
            Some(0) => return Ok((Context::default(), 0)),
            Some(i) => i,
            None => s.len(),
        };
        return transition(c, &s[..end]);
    }
    let ends: &[u8] = match c.delim {
        Delim::Double => b"\"",
        Delim::Single => b"'",
        _ => b" \t\n\x0c\r>",
    };
    let i = s.iter().position(|b| ends.contains(b)).unwrap_or(s.len());
    if c.delim == Delim::SpaceOrTagEnd
        && let Some(j) = s[..i].iter().position(|b| b"\"'<=`".contains(b))
    {
        return Err(format!(
            "{} in unquoted attr: {}",
            crate::gofmt::quote(&(s[j] as char).to_string()),
            crate::gofmt::quote(&String::from_utf8_lossy(&s[..i]))
        ));
    }
    if i == s.len() {
        let mut c = c;
        let mut u: &[u8] = s;
        while !u.is_empty() {
            let (c1, n) = transition(c, u)?;
            c = c1;
            u = &u[n.max(1).min(u.len())..];
        }
        return Ok((c, s.len()));
    }
    let i = if c.delim == Delim::SpaceOrTagEnd {
        i
    } else {
        i + 1
    };
    Ok((
        Context {
            state: State::Tag,
            element: c.element,
            ..Context::default()
        },
        i,
    ))
}

/// Go's `escapeText`: the context after a text node and the text as written (a `<` that starts no
/// tag becomes `&lt;`, comments are removed).
pub(crate) fn escape_text(mut c: Context, text: &str) -> Result<(Context, String), String> {
    let s = text.as_bytes();
    let mut b: Vec<u8> = Vec::with_capacity(s.len());
    let (mut written, mut i) = (0usize, 0usize);
    let mut guard = 0usize;
    let mut memo = None;
    while i != s.len() {
        let (c1, nread) = after_text(c, s, i, &mut memo)?;
        let i1 = i + nread;
        if c.state == State::Text || c.state == State::Rcdata {
            let mut end = i1;
            if c1.state != c.state
                && let Some(j) = s[i..end].iter().rposition(|&x| x == b'<')
            {
                end = i + j;
            }
            for j in i..end {
                if s[j] == b'<'
                    && !s[j..]
                        .get(..9)
                        .is_some_and(|d| d.eq_ignore_ascii_case(b"<!DOCTYPE"))
                {
                    b.extend_from_slice(&s[written..j]);
                    b.extend_from_slice(b"&lt;");
                    written = j + 1;
                }
            }
        } else if is_comment(c.state) && c.delim == Delim::None {
            if c.state == State::CssBlockCmt {
                b.push(b' ');
            } else if c.state == State::JsBlockCmt {
                // A block comment with a line break in it still separates lines.
                let t = String::from_utf8_lossy(&s[written.min(i1)..i1]);
                b.push(if t.contains(['\n', '\r', '\u{2028}', '\u{2029}']) {
                    b'\n'
                } else {
                    b' '
                });
            }
            written = i1;
        }
        if c.state != c1.state && is_comment(c1.state) && c1.delim == Delim::None {
            let cs = if c1.state == State::HtmlCmt {
                i1 - 4
            } else {
                i1 - 2
            };
            if cs >= written {
                b.extend_from_slice(&s[written..cs]);
            }
            written = i1;
        }
        if i == i1 && c.state == c1.state {
            return Err(format!(
                "infinite loop from {c:?} to {c1:?} on {}",
                crate::gofmt::quote(&String::from_utf8_lossy(&s[i..]))
            ));
        }
        // Every transition consumes input or changes state; a change without input happens once.
        guard += 1;
        if guard > 4 * s.len() + 16 {
            return Err("html/template: escaping did not terminate".into());
        }
        c = c1;
        i = i1;
    }
    if written == 0 {
        return Ok((c, text.to_string()));
    }
    if !(is_comment(c.state) && c.delim == Delim::None) {
        b.extend_from_slice(&s[written..]);
    }
    Ok((c, String::from_utf8_lossy(&b).into_owned()))
}

/// The escapers Go inserts into an action's pipeline in this context, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escaper {
    Html,
    Rcdata,
    Attr,
    Nospace,
    UrlFilter,
    UrlNormalizer,
    UrlQuery,
    NameFilter,
    Comment,
    CssValue,
    JsVal,
    JsStr,
    JsRegexp,
}

impl Escaper {
    /// The predefined escaper (`html`, `urlquery`) Go takes as this one.
    fn predefined(self) -> Option<&'static str> {
        match self {
            Escaper::Html | Escaper::Rcdata | Escaper::Attr => Some("html"),
            Escaper::UrlQuery | Escaper::UrlNormalizer => Some("urlquery"),
            _ => None,
        }
    }
}

/// Go's `nudge`: the context an action in `c` is in.
fn nudge(c: Context) -> Context {
    match c.state {
        State::Tag | State::AfterName => Context {
            state: State::AttrName,
            ..c
        },
        State::BeforeValue => Context {
            state: attr_start(c.attr),
            delim: Delim::SpaceOrTagEnd,
            ..c
        },
        _ => c,
    }
}

fn escapers(c: Context) -> Result<(Context, Vec<Escaper>), String> {
    let mut c = nudge(c);
    let mut s = Vec::new();
    match c.state {
        State::Url => match c.url_part {
            UrlPart::None => s.extend([Escaper::UrlFilter, Escaper::UrlNormalizer]),
            UrlPart::PreQuery => s.push(Escaper::UrlNormalizer),
            UrlPart::QueryOrFrag => s.push(Escaper::UrlQuery),
        },
        State::Text => s.push(Escaper::Html),
        State::Rcdata => s.push(Escaper::Rcdata),
        State::Attr => {}
        State::AttrName | State::Tag => {
            c.state = State::AttrName;
            s.push(Escaper::NameFilter);
        }
        State::Css => s.push(Escaper::CssValue),
        State::Js => {
            s.push(Escaper::JsVal);
            c.js_ctx = JsCtx::DivOp;
        }
        State::JsDqStr | State::JsSqStr => s.push(Escaper::JsStr),
        State::JsRegexp => s.push(Escaper::JsRegexp),
        st if is_comment(st) => s.push(Escaper::Comment),
        _ => {
            return Err(
                "actions in JavaScript template literals and CSS strings are not supported".into(),
            );
        }
    }
    match c.delim {
        Delim::None => {}
        Delim::SpaceOrTagEnd => s.push(Escaper::Nospace),
        _ => s.push(Escaper::Attr),
    }
    Ok((c, s))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Plain,
    Html,
    Url,
}

fn content_of(v: &Value) -> Content {
    match v {
        Value::Typed(t, _) if &**t == HTML_TYPE => Content::Html,
        Value::Typed(t, _) if &**t == URL_TYPE => Content::Url,
        _ => Content::Plain,
    }
}

/// Go's `stripTags`: the text of an HTML fragment outside its tags and comments.
fn strip_tags(html: &str) -> String {
    let s = html.as_bytes();
    let mut out = Vec::new();
    let mut c = Context::default();
    let mut i = 0;
    let mut memo = None;
    while i < s.len() {
        let Ok((c1, n)) = after_text(c, s, i, &mut memo) else {
            break;
        };
        let i1 = i + n;
        if c.state == State::Text || c.state == State::Rcdata {
            let mut j = i1;
            if c1.state != c.state
                && let Some(k) = s[i..j].iter().rposition(|&x| x == b'<')
            {
                j = i + k;
            }
            out.extend_from_slice(&s[i..j]);
        }
        if i1 == i && c1 == c {
            break;
        }
        c = c1;
        i = i1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn apply(e: Escaper, s: &str, t: Content) -> String {
    match e {
        Escaper::Html if t == Content::Html => s.to_string(),
        Escaper::Html => html_replace(s, html_table, true),
        Escaper::Rcdata if t == Content::Html => html_replace(s, html_norm_table, true),
        Escaper::Rcdata => html_replace(s, html_table, true),
        Escaper::Attr if t == Content::Html => html_replace(&strip_tags(s), html_norm_table, true),
        Escaper::Attr => html_replace(s, html_table, true),
        Escaper::Nospace if s.is_empty() => "ZgotmplZ".into(),
        Escaper::Nospace if t == Content::Html => {
            html_replace(&strip_tags(s), nospace_norm_table, false)
        }
        Escaper::Nospace => html_replace(s, nospace_table, false),
        Escaper::UrlFilter if t == Content::Url || is_safe_url(s) => s.to_string(),
        Escaper::UrlFilter => "#ZgotmplZ".into(),
        Escaper::UrlNormalizer => process_url(s, true),
        Escaper::UrlQuery => process_url(s, t == Content::Url),
        Escaper::NameFilter => {
            let l = s.to_ascii_lowercase();
            if l.is_empty()
                || attr_kind(&l) != AttrKind::None
                || !l.chars().all(char::is_alphanumeric)
            {
                "ZgotmplZ".into()
            } else {
                l
            }
        }
        Escaper::Comment => String::new(),
        Escaper::CssValue => css_value_filter(s),
        // The value's JSON, computed by `escape_action` (it needs the value, not its text).
        Escaper::JsVal => s.to_string(),
        Escaper::JsStr => js_str_escape(s),
        Escaper::JsRegexp => js_regexp_escape(s),
    }
}

/// Escapes an action's printed value `text` (of value `v`) for context `c`, as the escapers Go adds
/// to its pipeline would; `last` is the pipeline's last function if it is Go's `html` or `urlquery`
/// (whose equivalent escaper the pipeline already applied). Returns the context after the action.
pub(crate) fn escape_action(
    c: Context,
    v: &Value,
    text: &str,
    last: Option<&str>,
) -> Result<(Context, String), String> {
    let (c, mut list) = escapers(c)?;
    if let Some(pre) = last
        && let Some(i) = list.iter().position(|e| e.predefined() == Some(pre))
    {
        list.drain(..=i);
    }
    let mut t = content_of(v);
    let mut s = if list.first() == Some(&Escaper::JsVal) {
        js_val_escape(v, text)
    } else {
        text.to_string()
    };
    for e in list {
        s = apply(e, &s, t);
        t = Content::Plain;
    }
    Ok((c, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(parts: &[Result<&str, &str>]) -> String {
        let mut c = Context::default();
        let mut out = String::new();
        for p in parts {
            match p {
                Ok(text) => {
                    let (c1, s) = escape_text(c, text).expect("text");
                    c = c1;
                    out.push_str(&s);
                }
                Err(value) => {
                    let (c1, s) =
                        escape_action(c, &Value::string(*value), value, None).expect("action");
                    c = c1;
                    out.push_str(&s);
                }
            }
        }
        out
    }

    #[test]
    fn contexts_escape_as_go_does() {
        let cases: &[(&[Result<&str, &str>], &str)] = &[
            (
                &[Ok("<b>"), Err("a<b> & 'c' +1")],
                "<b>a&lt;b&gt; &amp; &#39;c&#39; &#43;1",
            ),
            (
                &[Ok("<title>"), Err("<x>"), Ok("</title>")],
                "<title>&lt;x&gt;</title>",
            ),
            (
                &[Ok("<a href=\""), Err("javascript:alert(1)"), Ok("\">")],
                "<a href=\"#ZgotmplZ\">",
            ),
            (
                &[
                    Ok("<a href=\""),
                    Err("http://h/a b?c"),
                    Ok("/?q="),
                    Err("a b&c"),
                    Ok("\">"),
                ],
                "<a href=\"http://h/a%20b?c/?q=a%20b%26c\">",
            ),
            (&[Ok("<a title="), Err("a b"), Ok(">")], "<a title=a&#32;b>"),
            (&[Ok("x <!-- c --> y < z")], "x  y &lt; z"),
            (
                &[Ok("<style>a { /* c */ b: 'x' }</style>")],
                "<style>a {   b: 'x' }</style>",
            ),
            (&[Ok("<!DOCTYPE html><p>")], "<!DOCTYPE html><p>"),
            (&[Ok("<p "), Err("onclick"), Ok(">")], "<p ZgotmplZ>"),
            (&[Ok("<!-- "), Err("x"), Ok(" -->")], ""),
            (
                &[Ok("<a style=\"color: "), Err("red"), Ok("\">")],
                "<a style=\"color: red\">",
            ),
            (
                &[Ok("<a style=\"color: "), Err("x;y"), Ok("\">")],
                "<a style=\"color: ZgotmplZ\">",
            ),
            (
                &[
                    Ok("<style>p { color: "),
                    Err("expr\\65ssion"),
                    Ok(" }</style>"),
                ],
                "<style>p { color: ZgotmplZ }</style>",
            ),
            (
                &[Ok("<style>p { color: "), Err("#f00"), Ok(" }</style>")],
                "<style>p { color: #f00 }</style>",
            ),
        ];
        for (parts, want) in cases {
            assert_eq!(run(parts), *want, "{parts:?}");
        }
    }

    #[test]
    fn html_content_bypasses_text_escaping_only() {
        let v = Value::Typed(HTML_TYPE.into(), "<b>x</b>".into());
        let (_, s) = escape_action(Context::default(), &v, "<b>x</b>", None).expect("text");
        assert_eq!(s, "<b>x</b>");
        let (c, _) = escape_text(Context::default(), "<a title=\"").expect("attr");
        let (_, s) = escape_action(c, &v, "<b>x</b>", None).expect("attr");
        assert_eq!(s, "x");
    }

    /// Texts made of HTML's significant characters, split into text and actions at random: escaping
    /// never panics and always terminates.
    #[test]
    fn any_text_escapes_without_panicking() {
        const ALPHABET: &[&str] = &[
            "<",
            ">",
            "/",
            "\"",
            "'",
            "=",
            " ",
            "a",
            "-",
            "!",
            "*",
            "\\",
            "`",
            "?",
            "#",
            "\n",
            "<!--",
            "-->",
            "<title>",
            "</title>",
            "<style>",
            "</style>",
            "<script>",
            "</script",
            "<a href=",
            "style=",
            "onclick=",
            "/*",
            "*/",
            "é",
            "<!DOCTYPE",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..3000 {
            let mut c = Context::default();
            for _ in 0..next(6) + 1 {
                let text: String = (0..next(12))
                    .map(|_| ALPHABET[next(ALPHABET.len())])
                    .collect();
                match escape_text(c, &text) {
                    Ok((c1, _)) => c = c1,
                    Err(_) => break,
                }
                if let Ok((c1, _)) = escape_action(c, &Value::string("x y"), "x y", None) {
                    c = c1;
                }
            }
        }
    }

    #[test]
    fn template_literals_are_refused() {
        let (c, _) = escape_text(Context::default(), "<script>var x = `").expect("text");
        assert!(escape_action(c, &Value::string("1"), "1", None).is_err());
    }
}
