//! The output of one collection: metric families built with a small builder.

use std::collections::HashMap;

/// The type of a metric family (OpenMetrics' types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Untyped,
    Histogram,
    Summary,
    Info,
    StateSet,
    GaugeHistogram,
}

/// Label pairs of one series, without the metric name.
pub type Labels = Vec<(String, String)>;

/// One cumulative histogram bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub upper_bound: f64,
    pub cumulative_count: u64,
}

/// A classic histogram observation set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    pub buckets: Vec<Bucket>,
    pub count: u64,
    pub sum: f64,
}

/// One quantile of a summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantile {
    pub quantile: f64,
    pub value: f64,
}

/// A summary: quantiles plus count and sum.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub quantiles: Vec<Quantile>,
    pub count: u64,
    pub sum: f64,
}

/// The value of one series.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Histogram(Histogram),
    Summary(Summary),
}

/// One series of a family.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub labels: Labels,
    pub value: Value,
    pub timestamp_ms: Option<i64>,
}

impl Metric {
    /// The value as a number, if it is one.
    pub fn number(&self) -> Option<f64> {
        match self.value {
            Value::Number(v) => Some(v),
            _ => None,
        }
    }

    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A metric family: name, kind, help, unit and its series.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub kind: Kind,
    pub help: String,
    pub unit: String,
    pub metrics: Vec<Metric>,
}

/// Everything one `collect` produced, in insertion order.
#[derive(Debug, Default)]
pub struct Registry {
    families: Vec<Family>,
    by_name: HashMap<String, usize>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// The family `name`, created with `kind` and `help` on first use. Later
    /// calls with the same name add series to the same family.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> FamilyBuilder<'_> {
        let index = match self.by_name.get(name) {
            Some(&index) => index,
            None => {
                self.families.push(Family {
                    name: name.to_owned(),
                    kind,
                    help: help.to_owned(),
                    unit: String::new(),
                    metrics: Vec::new(),
                });
                self.by_name
                    .insert(name.to_owned(), self.families.len() - 1);
                self.families.len() - 1
            }
        };
        FamilyBuilder {
            family: &mut self.families[index],
        }
    }

    pub fn counter(&mut self, name: &str, help: &str) -> FamilyBuilder<'_> {
        self.family(name, Kind::Counter, help)
    }

    pub fn gauge(&mut self, name: &str, help: &str) -> FamilyBuilder<'_> {
        self.family(name, Kind::Gauge, help)
    }

    pub fn untyped(&mut self, name: &str, help: &str) -> FamilyBuilder<'_> {
        self.family(name, Kind::Untyped, help)
    }

    pub fn histogram(&mut self, name: &str, help: &str) -> FamilyBuilder<'_> {
        self.family(name, Kind::Histogram, help)
    }

    pub fn summary(&mut self, name: &str, help: &str) -> FamilyBuilder<'_> {
        self.family(name, Kind::Summary, help)
    }

    /// An info family: series valued 1 whose labels carry the information.
    pub fn info(&mut self, name: &str, help: &str) -> FamilyBuilder<'_> {
        self.family(name, Kind::Info, help)
    }

    pub fn families(&self) -> &[Family] {
        &self.families
    }

    pub fn into_families(self) -> Vec<Family> {
        self.families
    }

    /// The family called `name`, for tests.
    pub fn get(&self, name: &str) -> Option<&Family> {
        self.by_name.get(name).map(|&i| &self.families[i])
    }
}

/// Adds series to one family of a [`Registry`].
#[derive(Debug)]
pub struct FamilyBuilder<'a> {
    family: &'a mut Family,
}

fn owned(labels: &[(&str, &str)]) -> Labels {
    labels
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

impl FamilyBuilder<'_> {
    /// Sets the OpenMetrics unit (e.g. `seconds`).
    pub fn unit(&mut self, unit: &str) -> &mut Self {
        self.family.unit = unit.to_owned();
        self
    }

    /// Adds the series without labels.
    pub fn set(&mut self, value: f64) -> &mut Self {
        self.with(&[], value)
    }

    /// Adds one series with `labels` and `value`.
    pub fn with(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.push(owned(labels), Value::Number(value))
    }

    /// Adds one series with owned labels.
    pub fn with_labels(&mut self, labels: Labels, value: f64) -> &mut Self {
        self.push(labels, Value::Number(value))
    }

    /// Adds one info series (value 1).
    pub fn info(&mut self, labels: &[(&str, &str)]) -> &mut Self {
        self.with(labels, 1.0)
    }

    /// Adds one histogram series.
    pub fn observe_histogram(&mut self, labels: &[(&str, &str)], value: Histogram) -> &mut Self {
        self.push(owned(labels), Value::Histogram(value))
    }

    /// Adds one summary series.
    pub fn observe_summary(&mut self, labels: &[(&str, &str)], value: Summary) -> &mut Self {
        self.push(owned(labels), Value::Summary(value))
    }

    fn push(&mut self, labels: Labels, value: Value) -> &mut Self {
        self.family.metrics.push(Metric {
            labels,
            value,
            timestamp_ms: None,
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_name_appends_to_one_family() {
        let mut out = Registry::new();
        out.counter("c_total", "h").with(&[("a", "1")], 1.0);
        out.counter("c_total", "h").with(&[("a", "2")], 2.0);
        out.gauge("g", "h").unit("bytes").set(3.0);
        assert_eq!(out.families().len(), 2);
        let c = out.get("c_total").unwrap();
        assert_eq!(c.metrics.len(), 2);
        assert_eq!(c.metrics[1].label("a"), Some("2"));
        assert_eq!(out.get("g").unwrap().unit, "bytes");
        assert_eq!(out.get("g").unwrap().metrics[0].number(), Some(3.0));
    }
}
