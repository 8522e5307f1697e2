//! The routing tree as Alertmanager's dispatcher builds it
//! (`dispatch/route.go`): options inherited down the tree (receiver,
//! grouping, group_wait 30s, group_interval 5m, repeat_interval 4h),
//! matchers from `match`, `match_re` and `matchers`, depth-first matching
//! with `continue`, and the route keys and ids amtool prints.

use std::collections::BTreeSet;

use crate::matcher::{LabelSet, Matchers};
use crate::route_config::{RouteConfig, combine};

/// `DefaultRouteOpts`' group_wait, in milliseconds.
pub const DEFAULT_GROUP_WAIT_MS: i64 = 30_000;
/// `DefaultRouteOpts`' group_interval, in milliseconds.
pub const DEFAULT_GROUP_INTERVAL_MS: i64 = 5 * 60_000;
/// `DefaultRouteOpts`' repeat_interval, in milliseconds.
pub const DEFAULT_REPEAT_INTERVAL_MS: i64 = 4 * 3_600_000;

/// What a route does with the alerts it matches (`RouteOpts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOpts {
    pub receiver: String,
    pub group_by: BTreeSet<String>,
    pub group_by_all: bool,
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: i64,
    /// Not inherited: only this node's.
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
}

impl Default for RouteOpts {
    fn default() -> Self {
        RouteOpts {
            receiver: String::new(),
            group_by: BTreeSet::new(),
            group_by_all: false,
            group_wait_ms: DEFAULT_GROUP_WAIT_MS,
            group_interval_ms: DEFAULT_GROUP_INTERVAL_MS,
            repeat_interval_ms: DEFAULT_REPEAT_INTERVAL_MS,
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
        }
    }
}

/// A node of the routing tree. Nodes are addressed by their path of
/// child indexes from the root (the root's is empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub opts: RouteOpts,
    pub matchers: Matchers,
    pub continue_matching: bool,
    pub routes: Vec<Route>,
    key: String,
    id: String,
}

impl Route {
    /// Builds the tree from the configuration's root route (`NewRoute`).
    pub fn new(config: &RouteConfig) -> Route {
        Route::build(config, None, 0)
    }

    fn build(cr: &RouteConfig, parent: Option<(&RouteOpts, &str, &str)>, index: usize) -> Route {
        let mut opts = parent.map_or_else(RouteOpts::default, |(o, _, _)| o.clone());
        if !cr.receiver.is_empty() {
            opts.receiver = cr.receiver.clone();
        }
        if let Some(group_by) = &cr.group_by {
            opts.group_by = group_by.iter().cloned().collect();
            opts.group_by_all = false;
        } else if cr.group_by_all {
            opts.group_by_all = true;
        }
        if let Some(v) = cr.group_wait {
            opts.group_wait_ms = v;
        }
        if let Some(v) = cr.group_interval {
            opts.group_interval_ms = v;
        }
        if let Some(v) = cr.repeat_interval {
            opts.repeat_interval_ms = v;
        }
        opts.mute_time_intervals = cr.mute_time_intervals.clone();
        opts.active_time_intervals = cr.active_time_intervals.clone();
        let matchers = combine(&cr.match_eq, &cr.match_re, &cr.matchers);
        let (key, id) = match parent {
            None => (matchers.to_string(), matchers.to_string()),
            Some((_, parent_key, parent_id)) => (
                format!("{parent_key}/{matchers}"),
                format!("{parent_id}/{matchers}/{index}"),
            ),
        };
        let routes = cr
            .routes
            .iter()
            .enumerate()
            .map(|(i, child)| Route::build(child, Some((&opts, &key, &id)), i))
            .collect();
        Route {
            opts,
            matchers,
            continue_matching: cr.continue_matching,
            routes,
            key,
            id,
        }
    }

    /// The routes an alert with these labels goes to (`Route.Match`):
    /// depth-first, the first matching child unless it continues; a node
    /// none of whose children match is itself the match.
    pub fn match_labels<'a, L: LabelSet<'a> + Copy>(&self, labels: L) -> Vec<&Route> {
        let mut out = Vec::new();
        self.collect(labels, &mut out);
        out
    }

    fn collect<'a, 's, L: LabelSet<'a> + Copy>(
        &'s self,
        labels: L,
        out: &mut Vec<&'s Route>,
    ) -> bool {
        if !self.matchers.matches(labels) {
            return false;
        }
        let before = out.len();
        for child in &self.routes {
            let matched = child.collect(labels, out);
            if matched && !child.continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(self);
        }
        true
    }

    /// The route's key (`Route.Key`): the matchers of each node from the
    /// root, `/`-separated.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The route's id (`Route.ID`): the key with each node's index among
    /// its siblings, unique in the tree.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Every node, depth-first from this one (`Route.Walk`).
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for child in &self.routes {
            out.extend(child.walk());
        }
        out
    }
}
