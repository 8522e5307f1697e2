//! The `--junit` report: Prometheus' `util/junitxml`, written as Go's
//! `encoding/xml` encoder writes it (no declaration, no indentation, no
//! self-closing elements, Go's escapes).

use std::fmt::Write as _;

/// All test files of a run.
#[derive(Debug, Default)]
pub struct JUnit {
    suites: Vec<Suite>,
}

/// One test file.
#[derive(Debug, Default)]
pub struct Suite {
    name: String,
    tests: usize,
    failures: usize,
    errors: usize,
    timestamp: String,
    cases: Vec<Case>,
}

#[derive(Debug, Default)]
struct Case {
    name: String,
    failures: Vec<String>,
    error: String,
}

impl JUnit {
    /// Starts the suite of a file.
    pub fn suite(&mut self, name: &str) -> &mut Suite {
        self.suites.push(Suite {
            name: name.to_owned(),
            ..Suite::default()
        });
        let last = self.suites.len() - 1;
        &mut self.suites[last]
    }

    /// The XML document.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<testsuites>");
        for s in &self.suites {
            let _ = write!(
                out,
                "<testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" timestamp=\"{}\">",
                escape(&s.name),
                s.tests,
                s.failures,
                s.errors,
                escape(&s.timestamp)
            );
            for c in &s.cases {
                let _ = write!(out, "<testcase name=\"{}\">", escape(&c.name));
                for f in &c.failures {
                    let _ = write!(out, "<failure>{}</failure>", escape(f));
                }
                if !c.error.is_empty() {
                    let _ = write!(out, "<error>{}</error>", escape(&c.error));
                }
                out.push_str("</testcase>");
            }
            out.push_str("</testsuite>");
        }
        out.push_str("</testsuites>");
        out
    }
}

impl Suite {
    /// Starts a test case.
    pub fn case(&mut self, name: &str) {
        self.cases.push(Case {
            name: name.to_owned(),
            ..Case::default()
        });
        self.tests += 1;
    }

    fn last_case(&mut self) -> &mut Case {
        if self.cases.is_empty() {
            self.case("unknown");
        }
        let last = self.cases.len() - 1;
        &mut self.cases[last]
    }

    /// A failure of the current case.
    pub fn fail(&mut self, message: &str) {
        self.failures += 1;
        self.last_case().failures.push(message.to_owned());
    }

    /// The file could not be tested at all.
    pub fn abort(&mut self, message: &str) {
        self.errors += 1;
        self.last_case().error = message.to_owned();
    }

    pub fn set_time(&mut self, timestamp: String) {
        self.timestamp = timestamp;
    }
}

/// Go's `xml.EscapeText`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c if (c as u32) < 0x20 && c != '\t' || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push('\u{fffd}')
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_go_encodes() {
        let mut j = JUnit::default();
        let good = j.suite("all good");
        good.case("alpha");
        good.set_time("2024-01-01T00:00:00".into());
        let mixed = j.suite("mixed");
        mixed.case("bad");
        mixed.fail("once <\"x\">\n");
        mixed.case("ugly");
        mixed.abort("buggy & 'odd'");
        j.suite("fast").fail("fail early");
        expect_test::expect![[r#"<testsuites><testsuite name="all good" tests="1" failures="0" errors="0" skipped="0" timestamp="2024-01-01T00:00:00"><testcase name="alpha"></testcase></testsuite><testsuite name="mixed" tests="2" failures="1" errors="1" skipped="0" timestamp=""><testcase name="bad"><failure>once &lt;&#34;x&#34;&gt;&#xA;</failure></testcase><testcase name="ugly"><error>buggy &amp; &#39;odd&#39;</error></testcase></testsuite><testsuite name="fast" tests="1" failures="1" errors="0" skipped="0" timestamp=""><testcase name="unknown"><failure>fail early</failure></testcase></testsuite></testsuites>"#]]
        .assert_eq(&j.to_xml());
    }
}
