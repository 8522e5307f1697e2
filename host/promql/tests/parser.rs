//! Parser and printer tests: data-driven cases with expect-test snapshots
//! (the canonical text and the tree, or the error), and the round trip of
//! every expression in the conformance corpus.

#[path = "support/corpus.rs"]
mod corpus;
use corpus::corpus_files;
use expect_test::{Expect, expect};
use wasmetheus_promql::ast::*;
use wasmetheus_promql::parser::parse;
use wasmetheus_promql::printer::format;

/// The tree as an S-expression, so precedence shows.
fn tree(e: &Expr) -> String {
    match e {
        Expr::Number(n) => format!(
            "{}{}",
            format_float(n.val),
            if n.duration { "s" } else { "" }
        ),
        Expr::String(s) => format!("{:?}", s.val),
        Expr::VectorSelector(v) => {
            let mut s = format!("(sel {:?}", v.name);
            for m in &v.matchers {
                s.push_str(&format!(" {m}"));
            }
            s.push_str(&modifiers(v.at, v.offset.as_ref()));
            if v.anchored {
                s.push_str(" anchored");
            }
            if v.smoothed {
                s.push_str(" smoothed");
            }
            s + ")"
        }
        Expr::MatrixSelector(m) => {
            format!(
                "(range {} {})",
                tree(&Expr::VectorSelector(m.selector.clone())),
                duration(&m.range)
            )
        }
        Expr::Subquery(s) => format!(
            "(subquery {} {} {}{})",
            tree(&s.expr),
            duration(&s.range),
            s.step.as_ref().map_or("default".into(), duration),
            modifiers(s.at, s.offset.as_ref())
        ),
        Expr::Paren(p) => format!("(paren {})", tree(&p.expr)),
        Expr::Unary(u) => format!(
            "({} {})",
            if u.negate { "neg" } else { "plus" },
            tree(&u.expr)
        ),
        Expr::Binary(b) => {
            let m = &b.matching;
            let mut mods = String::new();
            if b.return_bool {
                mods.push_str(" bool");
            }
            if m.on || !m.labels.is_empty() {
                mods.push_str(&format!(
                    " {}{:?}",
                    if m.on { "on" } else { "ignoring" },
                    m.labels
                ));
            }
            if m.card != Cardinality::OneToOne {
                mods.push_str(&format!(" {:?}{:?}", m.card, m.include));
            }
            if !m.fill.is_empty() {
                mods.push_str(&format!(" fill{:?}/{:?}", m.fill.lhs, m.fill.rhs));
            }
            format!(
                "({}{mods} {} {})",
                b.op.as_str(),
                tree(&b.lhs),
                tree(&b.rhs)
            )
        }
        Expr::Aggregate(a) => format!(
            "({}{} {}{})",
            a.op.as_str(),
            if a.without {
                format!(" without{:?}", a.grouping)
            } else if a.grouping.is_empty() {
                String::new()
            } else {
                format!(" by{:?}", a.grouping)
            },
            a.param
                .as_ref()
                .map_or(String::new(), |p| format!("{} ", tree(p))),
            tree(&a.expr)
        ),
        Expr::Call(c) => {
            let args: Vec<String> = c.args.iter().map(tree).collect();
            format!("(call {} {})", c.func.name, args.join(" ")).replace(" )", ")")
        }
    }
}

fn format_float(v: f64) -> String {
    wasmetheus_promql::printer::format_float(v)
}

fn duration(d: &Duration) -> String {
    match d {
        Duration::Millis(ms) => format!("{ms}ms"),
        Duration::Expr(e) => format!("{e:?}"),
    }
}

fn modifiers(at: Option<AtModifier>, offset: Option<&Duration>) -> String {
    let mut s = String::new();
    if let Some(at) = at {
        s.push_str(&format!(" @{at:?}"));
    }
    if let Some(o) = offset {
        s.push_str(&format!(" offset {}", duration(o)));
    }
    s
}

fn check(input: &str, expect: Expect) {
    let actual = match parse(input) {
        Ok(e) => format!("{}\n{}", format(&e), tree(&e)),
        Err(e) => format!("error: {e}"),
    };
    expect.assert_eq(&actual);
}

#[test]
fn precedence_and_associativity() {
    check(
        r#"1 + 2 * 3"#,
        expect![[r#"
        1 + 2 * 3
        (+ 1 (* 2 3))"#]],
    );
    check(
        r#"1 - 2 - 3"#,
        expect![[r#"
        1 - 2 - 3
        (- (- 1 2) 3)"#]],
    );
    check(
        r#"2 ^ 3 ^ 2"#,
        expect![[r#"
        2 ^ 3 ^ 2
        (^ 2 (^ 3 2))"#]],
    );
    check(
        r#"-2 ^ 2"#,
        expect![[r#"
        -2 ^ 2
        (neg (^ 2 2))"#]],
    );
    check(
        r#"-a ^ b"#,
        expect![[r#"
        -a ^ b
        (neg (^ (sel "a" __name__="a") (sel "b" __name__="b")))"#]],
    );
    check(
        r#"a ^ -b * c"#,
        expect![[r#"
        a ^ -b * c
        (* (^ (sel "a" __name__="a") (neg (sel "b" __name__="b"))) (sel "c" __name__="c"))"#]],
    );
    check(
        r#"a * -b"#,
        expect![[r#"
        a * -b
        (* (sel "a" __name__="a") (neg (sel "b" __name__="b")))"#]],
    );
    check(
        r#"a or b and c unless d"#,
        expect![[r#"
        a or b and c unless d
        (or ManyToMany[] (sel "a" __name__="a") (unless ManyToMany[] (and ManyToMany[] (sel "b" __name__="b") (sel "c" __name__="c")) (sel "d" __name__="d")))"#]],
    );
    check(
        r#"a + b > c and d or e"#,
        expect![[r#"
        a + b > c and d or e
        (or ManyToMany[] (and ManyToMany[] (> (+ (sel "a" __name__="a") (sel "b" __name__="b")) (sel "c" __name__="c")) (sel "d" __name__="d")) (sel "e" __name__="e"))"#]],
    );
    check(
        r#"a == bool b + c"#,
        expect![[r#"
        a == bool b + c
        (== bool (sel "a" __name__="a") (+ (sel "b" __name__="b") (sel "c" __name__="c")))"#]],
    );
    check(
        r#"a atan2 b * c"#,
        expect![[r#"
        a atan2 b * c
        (* (atan2 (sel "a" __name__="a") (sel "b" __name__="b")) (sel "c" __name__="c"))"#]],
    );
    check(
        r#"+a - -b"#,
        expect![[r#"
        +a - -b
        (- (plus (sel "a" __name__="a")) (neg (sel "b" __name__="b")))"#]],
    );
    check(
        r#"(1 + 2) * 3"#,
        expect![[r#"
        (1 + 2) * 3
        (* (paren (+ 1 2)) 3)"#]],
    );
    check(
        r#"a </ 2 + 1"#,
        expect![[r#"
        a </ 2 + 1
        (+ (</ (sel "a" __name__="a") 2) 1)"#]],
    );
    check(
        r#"a >/ on (x) b"#,
        expect![[r#"
        a >/ on (x) b
        (>/ on["x"] (sel "a" __name__="a") (sel "b" __name__="b"))"#]],
    );
}

#[test]
fn selectors_and_matchers() {
    check(
        r#"foo"#,
        expect![[r#"
        foo
        (sel "foo" __name__="foo")"#]],
    );
    check(
        r#"foo{a="b", c!="d", e=~"f.*", g!~"h"}"#,
        expect![[r#"
        foo{a="b",c!="d",e=~"f.*",g!~"h"}
        (sel "foo" a="b" c!="d" e=~"f.*" g!~"h" __name__="foo")"#]],
    );
    check(
        r#"{__name__=~"foo.+"}"#,
        expect![[r#"
        {__name__=~"foo.+"}
        (sel "" __name__=~"foo.+")"#]],
    );
    check(
        r#"foo{a="b",}"#,
        expect![[r#"
        foo{a="b"}
        (sel "foo" a="b" __name__="foo")"#]],
    );
    check(
        r#"{"my.metric", "a.b"="x"}"#,
        expect![[r#"
        {"a.b"="x",__name__="my.metric"}
        (sel "" __name__="my.metric" a.b="x")"#]],
    );
    check(
        r#"sum{job="x"} offset 1m"#,
        expect![[r#"
        sum{job="x"} offset 1m
        (sel "sum" job="x" __name__="sum" offset 60000ms)"#]],
    );
    check(
        r#"offset"#,
        expect![[r#"
        offset
        (sel "offset" __name__="offset")"#]],
    );
    check(
        r#"by{a='b'}"#,
        expect![[r#"
        by{a="b"}
        (sel "by" a="b" __name__="by")"#]],
    );
    check(
        r#"a:b:c"#,
        expect![[r#"
        a:b:c
        (sel "a:b:c" __name__="a:b:c")"#]],
    );
    check(
        r#"foo{a=`x\y`, b="\u00e9\n", c='it\'s'}"#,
        expect![[r#"
        foo{a="x\\y",b="é\n",c="it's"}
        (sel "foo" a="x\\y" b="é\n" c="it's" __name__="foo")"#]],
    );
    check(
        r#"foo # comment
+ bar"#,
        expect![[r#"
            foo + bar
            (+ (sel "foo" __name__="foo") (sel "bar" __name__="bar"))"#]],
    );
}

#[test]
fn offset_and_at() {
    check(
        r#"foo offset 5m"#,
        expect![[r#"
        foo offset 5m
        (sel "foo" __name__="foo" offset 300000ms)"#]],
    );
    check(
        r#"foo offset -1h30m"#,
        expect![[r#"
        foo offset -1h30m
        (sel "foo" __name__="foo" offset -5400000ms)"#]],
    );
    check(
        r#"foo[5m] offset 1w"#,
        expect![[r#"
        foo[5m] offset 1w
        (range (sel "foo" __name__="foo" offset 604800000ms) 300000ms)"#]],
    );
    check(
        r#"foo @ 100"#,
        expect![[r#"
        foo @ 100.000
        (sel "foo" __name__="foo" @Timestamp(100000))"#]],
    );
    check(
        r#"foo @ -1.5 offset 1m"#,
        expect![[r#"
        foo @ -1.500 offset 1m
        (sel "foo" __name__="foo" @Timestamp(-1500) offset 60000ms)"#]],
    );
    check(
        r#"foo @ start()"#,
        expect![[r#"
        foo @ start()
        (sel "foo" __name__="foo" @Start)"#]],
    );
    check(
        r#"foo[1m] @ end()"#,
        expect![[r#"
        foo[1m] @ end()
        (range (sel "foo" __name__="foo" @End) 60000ms)"#]],
    );
    check(
        r#"foo offset 100 + 2"#,
        expect![[r#"
        foo offset 1m40s + 2
        (+ (sel "foo" __name__="foo" offset 100000ms) 2)"#]],
    );
    check(
        r#"foo offset -2 ^ 2"#,
        expect![[r#"
        foo offset -2s ^ 2
        (^ (sel "foo" __name__="foo" offset -2000ms) 2)"#]],
    );
    check(
        r#"foo offset (2 ^ 2)"#,
        expect![[r#"
        foo offset (2 ^ 2)
        (sel "foo" __name__="foo" offset Paren(Binary { op: Pow, lhs: Number { secs: 2.0, duration: false }, rhs: Number { secs: 2.0, duration: false } }))"#]],
    );
    check(
        r#"foo offset step() * 0"#,
        expect![[r#"
        foo offset step() * 0
        (* (sel "foo" __name__="foo" offset Step) 0)"#]],
    );
    check(
        r#"foo offset -min_of(step(), 1s) + 8000"#,
        expect![[r#"
        foo offset -min_of(step(), 1s) + 8000
        (+ (sel "foo" __name__="foo" offset Neg(MinOf(Step, Number { secs: 1.0, duration: true }))) 8000)"#]],
    );
    check(
        r#"foo offset (1h * 2)"#,
        expect![[r#"
        foo offset (1h * 2)
        (sel "foo" __name__="foo" offset Paren(Binary { op: Mul, lhs: Number { secs: 3600.0, duration: true }, rhs: Number { secs: 2.0, duration: false } }))"#]],
    );
    check(
        r#"foo offset 0"#,
        expect![[r#"
        foo
        (sel "foo" __name__="foo")"#]],
    );
}

#[test]
fn ranges_and_subqueries() {
    check(
        r#"foo[5m]"#,
        expect![[r#"
        foo[5m]
        (range (sel "foo" __name__="foo") 300000ms)"#]],
    );
    check(
        r#"foo[1h30m]"#,
        expect![[r#"
        foo[1h30m]
        (range (sel "foo" __name__="foo") 5400000ms)"#]],
    );
    check(
        r#"foo[1800]"#,
        expect![[r#"
        foo[30m]
        (range (sel "foo" __name__="foo") 1800000ms)"#]],
    );
    check(
        r#"foo[5m+1m]"#,
        expect![[r#"
        foo[5m + 1m]
        (range (sel "foo" __name__="foo") Binary { op: Add, lhs: Number { secs: 300.0, duration: true }, rhs: Number { secs: 60.0, duration: true } })"#]],
    );
    check(
        r#"foo[step()]"#,
        expect![[r#"
        foo[step()]
        (range (sel "foo" __name__="foo") Step)"#]],
    );
    check(
        r#"foo[max_of(min_of(step()+1,1h),1ms)]"#,
        expect![[r#"
        foo[max_of(min_of(step() + 1, 1h), 1ms)]
        (range (sel "foo" __name__="foo") MaxOf(MinOf(Binary { op: Add, lhs: Step, rhs: Number { secs: 1.0, duration: false } }, Number { secs: 3600.0, duration: true }), Number { secs: 0.001, duration: true }))"#]],
    );
    check(
        r#"rate(foo[5m])[30m:1m]"#,
        expect![[r#"
        rate(foo[5m])[30m:1m]
        (subquery (call rate (range (sel "foo" __name__="foo") 300000ms)) 1800000ms 60000ms)"#]],
    );
    check(
        r#"foo[10m:]"#,
        expect![[r#"
        foo[10m:]
        (subquery (sel "foo" __name__="foo") 600000ms default)"#]],
    );
    check(
        r#"(a + b)[5m:] offset 1m"#,
        expect![[r#"
        (a + b)[5m:] offset 1m
        (subquery (paren (+ (sel "a" __name__="a") (sel "b" __name__="b"))) 300000ms default offset 60000ms)"#]],
    );
    check(
        r#"foo[1m] anchored"#,
        expect![[r#"
        foo[1m] anchored
        (range (sel "foo" __name__="foo" anchored) 60000ms)"#]],
    );
    check(
        r#"foo[1m] smoothed"#,
        expect![[r#"
        foo[1m] smoothed
        (range (sel "foo" __name__="foo" smoothed) 60000ms)"#]],
    );
    check(
        r#"foo[(9m30s+30s)*3]"#,
        expect![[r#"
        foo[(9m30s + 30s) * 3]
        (range (sel "foo" __name__="foo") Binary { op: Mul, lhs: Paren(Binary { op: Add, lhs: Number { secs: 570.0, duration: true }, rhs: Number { secs: 30.0, duration: true } }), rhs: Number { secs: 3.0, duration: false } })"#]],
    );
    check(
        r#"foo[-5m+35m]"#,
        expect![[r#"
        foo[-5m + 35m]
        (range (sel "foo" __name__="foo") Binary { op: Add, lhs: Number { secs: -300.0, duration: true }, rhs: Number { secs: 2100.0, duration: true } })"#]],
    );
}

#[test]
fn aggregations() {
    check(
        r#"sum(foo)"#,
        expect![[r#"
        sum(foo)
        (sum (sel "foo" __name__="foo"))"#]],
    );
    check(
        r#"sum by (job) (rate(x[5m]))"#,
        expect![[r#"
        sum by (job) (rate(x[5m]))
        (sum by["job"] (call rate (range (sel "x" __name__="x") 300000ms)))"#]],
    );
    check(
        r#"sum(rate(x[5m])) by (job)"#,
        expect![[r#"
        sum by (job) (rate(x[5m]))
        (sum by["job"] (call rate (range (sel "x" __name__="x") 300000ms)))"#]],
    );
    check(
        r#"avg without (a, b) (foo)"#,
        expect![[r#"
        avg without (a, b) (foo)
        (avg without["a", "b"] (sel "foo" __name__="foo"))"#]],
    );
    check(
        r#"topk(5, foo)"#,
        expect![[r#"
        topk(5, foo)
        (topk 5 (sel "foo" __name__="foo"))"#]],
    );
    check(
        r#"bottomk by (x) (3, foo)"#,
        expect![[r#"
        bottomk by (x) (3, foo)
        (bottomk by["x"] 3 (sel "foo" __name__="foo"))"#]],
    );
    check(
        r#"count_values("v", foo)"#,
        expect![[r#"
        count_values("v", foo)
        (count_values "v" (sel "foo" __name__="foo"))"#]],
    );
    check(
        r#"quantile without(p)(0.8, foo)"#,
        expect![[r#"
        quantile without (p) (0.8, foo)
        (quantile without["p"] 0.8 (sel "foo" __name__="foo"))"#]],
    );
    check(
        r#"limitk(2, foo)"#,
        expect![[r#"
        limitk(2, foo)
        (limitk 2 (sel "foo" __name__="foo"))"#]],
    );
    check(
        r#"limit_ratio(0.5, foo)"#,
        expect![[r#"
        limit_ratio(0.5, foo)
        (limit_ratio 0.5 (sel "foo" __name__="foo"))"#]],
    );
    check(
        r#"sum by () (foo)"#,
        expect![[r#"
        sum(foo)
        (sum (sel "foo" __name__="foo"))"#]],
    );
    check(
        r#"sum by ("a.b", offset) (foo)"#,
        expect![[r#"
        sum by ("a.b", offset) (foo)
        (sum by["a.b", "offset"] (sel "foo" __name__="foo"))"#]],
    );
    check(
        r#"SUM(foo) BY (job)"#,
        expect![[r#"
        sum by (job) (foo)
        (sum by["job"] (sel "foo" __name__="foo"))"#]],
    );
}

#[test]
fn vector_matching() {
    check(
        r#"a + on (x) b"#,
        expect![[r#"
        a + on (x) b
        (+ on["x"] (sel "a" __name__="a") (sel "b" __name__="b"))"#]],
    );
    check(
        r#"a * ignoring (x, y) group_left (z) b"#,
        expect![[r#"
        a * ignoring (x, y) group_left (z) b
        (* ignoring["x", "y"] ManyToOne["z"] (sel "a" __name__="a") (sel "b" __name__="b"))"#]],
    );
    check(
        r#"a / on (x) group_right b"#,
        expect![[r#"
        a / on (x) group_right () b
        (/ on["x"] OneToMany[] (sel "a" __name__="a") (sel "b" __name__="b"))"#]],
    );
    check(
        r#"a and on (x) b"#,
        expect![[r#"
        a and on (x) b
        (and on["x"] ManyToMany[] (sel "a" __name__="a") (sel "b" __name__="b"))"#]],
    );
    check(
        r#"a + group_left b"#,
        expect!["error: 1:5: parse error: unexpected <group_left>"],
    );
    check(
        r#"a + ignoring () group_left b"#,
        expect![[r#"
        a + ignoring () group_left () b
        (+ ManyToOne[] (sel "a" __name__="a") (sel "b" __name__="b"))"#]],
    );
    check(
        r#"a + fill(0) b"#,
        expect![[r#"
        a + fill(0) b
        (+ fillSome(0.0)/Some(0.0) (sel "a" __name__="a") (sel "b" __name__="b"))"#]],
    );
    check(
        r#"a + on (x) group_left fill_left(1) fill_right(-Inf) b"#,
        expect![[r#"
            a + on (x) group_left () fill_left(1) fill_right(-Inf) b
            (+ on["x"] ManyToOne[] fillSome(1.0)/Some(-inf) (sel "a" __name__="a") (sel "b" __name__="b"))"#]],
    );
    check(
        r#"a == bool fill(NaN) b"#,
        expect![[r#"
        a == bool fill(NaN) b
        (== bool fillSome(NaN)/Some(NaN) (sel "a" __name__="a") (sel "b" __name__="b"))"#]],
    );
}

#[test]
fn functions() {
    check(
        r#"time()"#,
        expect![[r#"
        time()
        (call time)"#]],
    );
    check(
        r#"rate(foo[5m])"#,
        expect![[r#"
        rate(foo[5m])
        (call rate (range (sel "foo" __name__="foo") 300000ms))"#]],
    );
    check(
        r#"label_join(foo, "a", ",", "b", "c")"#,
        expect![[r#"
        label_join(foo, "a", ",", "b", "c")
        (call label_join (sel "foo" __name__="foo") "a" "," "b" "c")"#]],
    );
    check(
        r#"round(foo)"#,
        expect![[r#"
        round(foo)
        (call round (sel "foo" __name__="foo"))"#]],
    );
    check(
        r#"round(foo, 2)"#,
        expect![[r#"
        round(foo, 2)
        (call round (sel "foo" __name__="foo") 2)"#]],
    );
    check(
        r#"step()"#,
        expect![[r#"
        step()
        (call step)"#]],
    );
    check(
        r#"start() + range()"#,
        expect![[r#"
        start() + range()
        (+ (call start) (call range))"#]],
    );
    check(
        r#"min_of(1, 2)"#,
        expect![[r#"
        min_of(1, 2)
        (call min_of 1 2)"#]],
    );
    check(
        r#"info(foo, {data=~".+"})"#,
        expect![[r#"
        info(foo, {data=~".+"})
        (call info (sel "foo" __name__="foo") (sel "" data=~".+"))"#]],
    );
    check(
        r#"histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))"#,
        expect![[r#"
            histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))
            (call histogram_quantile 0.9 (sum by["le"] (call rate (range (sel "x_bucket" __name__="x_bucket") 300000ms))))"#]],
    );
}

#[test]
fn numbers_durations_strings() {
    check(
        r#"0x1f"#,
        expect![[r#"
        31
        31"#]],
    );
    check(
        r#"1e3"#,
        expect![[r#"
        1000
        1000"#]],
    );
    check(
        r#".5"#,
        expect![[r#"
        0.5
        0.5"#]],
    );
    check(
        r#"1_000"#,
        expect![[r#"
        1000
        1000"#]],
    );
    check(
        r#"0755"#,
        expect![[r#"
        493
        493"#]],
    );
    check(
        r#"Inf"#,
        expect![[r#"
        +Inf
        +Inf"#]],
    );
    check(
        r#"-inf"#,
        expect![[r#"
        -Inf
        -Inf"#]],
    );
    check(
        r#"NaN"#,
        expect![[r#"
        NaN
        NaN"#]],
    );
    check(
        r#"1e-7"#,
        expect![[r#"
        1e-07
        1e-07"#]],
    );
    check(
        r#"1e21"#,
        expect![[r#"
        1e+21
        1e+21"#]],
    );
    check(
        r#"5m"#,
        expect![[r#"
        5m
        300s"#]],
    );
    check(
        r#"1h30m"#,
        expect![[r#"
        1h30m
        5400s"#]],
    );
    check(
        r#"1y"#,
        expect![[r#"
        1y
        31536000s"#]],
    );
    check(
        r#"100ms"#,
        expect![[r#"
        100ms
        0.1s"#]],
    );
    check(
        r#""a\"b""#,
        expect![[r#"
        "a\"b"
        "a\"b""#]],
    );
    check(
        r#"'single'"#,
        expect![[r#"
        "single"
        "single""#]],
    );
    check(
        r#"`raw\n`"#,
        expect![[r#"
        "raw\\n"
        "raw\\n""#]],
    );
    check(
        r#""\x41\101\u00e9""#,
        expect![[r#"
        "AAé"
        "AAé""#]],
    );
    check(
        r#"-5m"#,
        expect![[r#"
        -5m
        -300s"#]],
    );
}

#[test]
fn errors() {
    check(
        r#""#,
        expect!["error: 1:1: parse error: no expression found in input"],
    );
    check(
        r#"1 +"#,
        expect!["error: 1:4: parse error: unexpected end of input"],
    );
    check(
        r#"sum("#,
        expect!["error: 1:5: parse error: unclosed left parenthesis"],
    );
    check(
        r#"foo{"#,
        expect!["error: 1:5: parse error: unexpected end of input inside braces"],
    );
    check(
        r#"foo[5m"#,
        expect!["error: 1:7: parse error: unexpected end of input in duration expression"],
    );
    check(
        r#"(1))"#,
        expect!["error: 1:5: parse error: unexpected right parenthesis ')'"],
    );
    check(
        r#"1a"#,
        expect![[r#"error: 1:1: parse error: bad number or duration syntax: "1""#]],
    );
    check(
        r#"0deadbeef"#,
        expect![[r#"error: 1:1: parse error: bad number or duration syntax: "0de""#]],
    );
    check(
        r#"foo bar"#,
        expect![[r#"error: 1:5: parse error: unexpected identifier "bar""#]],
    );
    check(
        r#"foo{a~"b"}"#,
        expect!["error: 1:6: parse error: unexpected character inside braces: '~'"],
    );
    check(
        r#"foo{a=}"#,
        expect![[r#"error: 1:7: parse error: unexpected "}" in label matching, expected string"#]],
    );
    check(
        r#"rate(foo)"#,
        expect![[
            r#"error: 1:6: parse error: expected type range vector in call to function "rate", got instant vector"#
        ]],
    );
    check(
        r#"rate(foo[5m], 1)"#,
        expect![[r#"error: 1:1: parse error: expected 1 argument(s) in call to "rate", got 2"#]],
    );
    check(
        r#"nosuchfn(foo)"#,
        expect![[r#"error: 1:1: parse error: unknown function with name "nosuchfn""#]],
    );
    check(
        r#"label_join(foo)"#,
        expect![[
            r#"error: 1:1: parse error: expected at least 3 argument(s) in call to "label_join", got 1"#
        ]],
    );
    check(
        r#"round(foo, 1, 2)"#,
        expect![[
            r#"error: 1:1: parse error: expected at most 2 argument(s) in call to "round", got 3"#
        ]],
    );
    check(
        r#"1 > 2"#,
        expect!["error: 1:3: parse error: comparisons between scalars must use BOOL modifier"],
    );
    check(
        r#"foo and 1"#,
        expect![[
            r#"error: 1:1: parse error: set operator "and" not allowed in binary scalar expression"#
        ]],
    );
    check(
        r#"1 + on (x) 2"#,
        expect!["error: 1:1: parse error: vector matching only allowed between instant vectors"],
    );
    check(
        r#"foo + bool bar"#,
        expect!["error: 1:5: parse error: bool modifier can only be used on comparison operators"],
    );
    check(
        r#"sum(foo) offset 5m"#,
        expect![
            "error: 1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"
        ],
    );
    check(
        r#"foo offset 1m offset 2m"#,
        expect!["error: 1:1: parse error: offset may not be set multiple times"],
    );
    check(
        r#"foo offset 1m [5m]"#,
        expect!["error: 1:15: parse error: no offset modifiers allowed before range"],
    );
    check(
        r#"rate(foo[5m])[1m]"#,
        expect!["error: 1:14: parse error: ranges only allowed for vector selectors"],
    );
    check(
        r#"foo @ 1 @ 2"#,
        expect!["error: 1:1: parse error: @ <timestamp> may not be set multiple times"],
    );
    check(
        r#"-foo[5m]"#,
        expect![[
            r#"error: 1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got "range vector""#
        ]],
    );
    check(
        r#"foo[5m][1m:]"#,
        expect![
            "error: 1:1: parse error: subquery is only allowed on instant vector, got matrix instead"
        ],
    );
    check(
        r#"{}"#,
        expect![
            "error: 1:1: parse error: vector selector must contain at least one non-empty matcher"
        ],
    );
    check(
        r#"{a=""}"#,
        expect![
            "error: 1:1: parse error: vector selector must contain at least one non-empty matcher"
        ],
    );
    check(
        r#"foo{__name__="bar"}"#,
        expect![[r#"error: 1:1: parse error: metric name must not be set twice: "foo" or "bar""#]],
    );
    check(
        r#"topk(foo)"#,
        expect![
            "error: 1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1"
        ],
    );
    check(
        r#"sum(foo, bar)"#,
        expect![
            "error: 1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2"
        ],
    );
    check(
        r#"sum by (a b) (foo)"#,
        expect![[
            r#"error: 1:11: parse error: unexpected identifier "b" in grouping opts, expected "," or ")""#
        ]],
    );
    check(
        r#""a\q""#,
        expect!["error: 1:1: parse error: unknown escape sequence U+0071 'q'"],
    );
    check(
        r#"'unterminated"#,
        expect!["error: 1:1: parse error: unterminated quoted string"],
    );
    check(
        r#"foo[0s]"#,
        expect!["error: 1:5: parse error: duration must be greater than 0"],
    );
    check(
        r#"foo[5m:0s]"#,
        expect!["error: 1:5: parse error: duration must be greater than 0"],
    );
    check(
        r#"foo[5m / 0]"#,
        expect!["error: 1:8: parse error: division by zero"],
    );
    check(
        r#"a + on(x) group_left(x) b"#,
        expect![[
            r#"error: 1:3: parse error: label "x" must not occur in ON and GROUP clause at once"#
        ]],
    );
    check(
        r#"a and on(x) group_left b"#,
        expect![[r#"error: 1:1: parse error: no grouping allowed for "and" operation"#]],
    );
    check(
        r#"a and fill(0) b"#,
        expect!["error: 1:1: parse error: filling in missing series not allowed for set operators"],
    );
    check(
        r#"foo[1m] anchored smoothed"#,
        expect!["error: 1:1: parse error: anchored and smoothed modifiers cannot be used together"],
    );
    check(
        r#"foo[1m:] anchored"#,
        expect!["error: 1:1: parse error: anchored modifier is not supported for subqueries"],
    );
    check(
        r#"info(foo, bar)"#,
        expect![
            "error: 1:11: parse error: expected label selectors only, got vector selector instead"
        ],
    );
    check(
        r#"foo{a=~"("}"#,
        expect![[r#"
        error: 1:5: parse error: invalid regular expression "(" for label a: regex parse error:
            ^(?:()$
             ^
        error: unclosed group"#]],
    );
    check(
        r#"foo @ Inf"#,
        expect!["error: 1:7: parse error: timestamp out of bounds for @ modifier: +Inf"],
    );
    check(
        r#"sum by (x)"#,
        expect!["error: 1:11: parse error: unexpected end of input"],
    );
    check(
        r#"count_values(1, foo)"#,
        expect![
            "error: 1:14: parse error: expected type string in aggregation parameter, got scalar"
        ],
    );
    // Prometheus 3's model.ParseDuration names the unit; 2.42 said
    // `not a valid duration string: "1hs"`.
    check(
        r#"1hs"#,
        expect![[r#"error: 1:1: parse error: unknown unit "hs" in duration "1hs""#]],
    );
    check(
        r#"foo
  + * bar"#,
        expect!["error: 2:5: parse error: unexpected <op:*>"],
    );
    check(
        r#"é"#,
        expect!["error: 1:1: parse error: unexpected character: 'é'"],
    );
}

/// Sorts matchers, which the printer sorts, so trees compare after a trip.
fn normalize(e: &mut Expr) {
    let sort = |v: &mut VectorSelector| {
        v.matchers.sort_by(|a, b| {
            (&a.name, a.kind.as_str(), &a.value).cmp(&(&b.name, b.kind.as_str(), &b.value))
        })
    };
    match e {
        Expr::Number(_) | Expr::String(_) => {}
        Expr::VectorSelector(v) => sort(v),
        Expr::MatrixSelector(m) => sort(&mut m.selector),
        Expr::Subquery(s) => normalize(&mut s.expr),
        Expr::Paren(p) => normalize(&mut p.expr),
        Expr::Unary(u) => normalize(&mut u.expr),
        Expr::Binary(b) => {
            normalize(&mut b.lhs);
            normalize(&mut b.rhs);
        }
        Expr::Aggregate(a) => {
            normalize(&mut a.expr);
            if let Some(p) = &mut a.param {
                normalize(p);
            }
        }
        Expr::Call(c) => c.args.iter_mut().for_each(normalize),
    }
}

/// One `eval` of the corpus: file, line, expression and whether it is
/// expected to fail (with which message).
struct Case {
    file: String,
    line: usize,
    expr: String,
    fail: Option<Option<String>>,
}

fn corpus() -> Vec<Case> {
    let files = corpus_files();
    let mut cases = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) = line
                .strip_prefix("eval_fail ")
                .or_else(|| line.strip_prefix("eval "))
            else {
                continue;
            };
            let words: Vec<&str> = rest.split_whitespace().collect();
            let skip = match words.first() {
                Some(&"instant") => 3,
                Some(&"range") => 7,
                _ => panic!("{}:{}: unknown eval {line:?}", path.display(), i + 1),
            };
            // The expression is the rest of the line after `skip` words.
            let mut expr = rest;
            for _ in 0..skip {
                expr = expr.trim_start();
                expr = &expr[expr.find(char::is_whitespace).unwrap_or(expr.len())..];
            }
            let mut fail = line.starts_with("eval_fail").then_some(None);
            for body in &lines[i + 1..] {
                if body.is_empty() || body.starts_with('#') {
                    break;
                }
                if let Some(f) = body.strip_prefix("expect fail") {
                    let msg = f.trim().strip_prefix("msg:").map(|m| m.trim().to_owned());
                    fail = Some(msg);
                }
            }
            cases.push(Case {
                file: path.file_name().unwrap().to_string_lossy().into_owned(),
                line: i + 1,
                expr: expr.trim().to_owned(),
                fail,
            });
        }
    }
    cases
}

/// Every corpus expression parses (the corpus has no parser-error cases),
/// and parse → print → parse gives the same tree.
#[test]
fn corpus_round_trip() {
    let cases = corpus();
    let (mut parsed, mut failing_parsed) = (0, 0);
    let mut problems = Vec::new();
    for c in &cases {
        let where_ = format!("{}:{}: {}", c.file, c.line, c.expr);
        let mut first = match parse(&c.expr) {
            Ok(e) => e,
            Err(e) => {
                let expected = match &c.fail {
                    Some(Some(msg)) => format!(" (expected to fail with {msg:?})"),
                    Some(None) => " (expected to fail)".into(),
                    None => String::new(),
                };
                problems.push(format!("{where_}\n  does not parse: {e}{expected}"));
                continue;
            }
        };
        if c.fail.is_some() {
            failing_parsed += 1;
        } else {
            parsed += 1;
        }
        let printed = format(&first);
        let mut second = match parse(&printed) {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!(
                    "{where_}\n  printed as {printed}\n  which does not parse: {e}"
                ));
                continue;
            }
        };
        normalize(&mut first);
        normalize(&mut second);
        if first != second {
            problems.push(format!(
                "{where_}\n  printed as {printed}\n  reparses differently:\n  {}\n  {}",
                tree(&first),
                tree(&second)
            ));
        }
        let reprinted = format(&second);
        if reprinted != printed {
            problems.push(format!(
                "{where_}\n  printed as {printed}\n  then as {reprinted}"
            ));
        }
    }
    eprintln!(
        "corpus: {} expressions; {parsed} parse, {failing_parsed} more parse that are expected to fail at run time, {} problems",
        cases.len(),
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A signed number on the left of `^` is printed in parentheses: printed
/// bare, `+Inf ^ x` would reparse as a sign on the whole power (found by the
/// token-soup property test with `Inf^and`).
#[test]
fn signed_power_bases_print_stably() {
    for input in ["Inf^and", "-2 ^ 2", "(-2) ^ 2", "(+Inf) ^ x"] {
        let once = format(&parse(input).unwrap());
        let twice = format(&parse(&once).unwrap());
        assert_eq!(once, twice, "{input}");
    }
}

/// Series selectors as `match[]` takes them: a selector alone, every
/// quoting, and no query checks (a selector matching everything parses;
/// the API refuses it where Prometheus does).
#[test]
fn metric_selectors() {
    use wasmetheus_promql::parser::parse_metric_selector;
    fn check(text: &str, want: Expect) {
        let got = match parse_metric_selector(text) {
            Ok(m) => m
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => format!("error: {e}"),
        };
        want.assert_eq(&got);
    }
    check("up", expect![[r#"__name__="up""#]]);
    check(
        r#"http_requests_total{job="api", code=~"5.."}"#,
        expect![[r#"job="api", code=~"5..", __name__="http_requests_total""#]],
    );
    check(
        r#"{__name__=~"node_.+",}"#,
        expect![[r#"__name__=~"node_.+""#]],
    );
    check(
        r#"{"my.metric", "a.b"!='x\n'}"#,
        expect![[r#"__name__="my.metric", a.b!="x\n""#]],
    );
    check("{job=`a\\b`}", expect![[r#"job="a\\b""#]]);
    check(r#"{job="\u00e9"}"#, expect![[r#"job="é""#]]);
    check(r#"{job=""}"#, expect![[r#"job="""#]]);
    check("{}", expect![""]);
    check(
        "",
        expect!["error: 1:1: parse error: unexpected end of input"],
    );
    check(
        r#"up{job="x""#,
        expect!["error: 1:11: parse error: unexpected end of input inside braces"],
    );
    check(
        r#"up{job~"x"}"#,
        expect!["error: 1:7: parse error: unexpected character inside braces: '~'"],
    );
    check(
        r#"up{job="x} "#,
        expect!["error: 1:8: parse error: unterminated quoted string"],
    );
    check(
        "up}",
        expect!["error: 1:3: parse error: unexpected character: '}'"],
    );
    check(
        "foo + bar",
        expect!["error: 1:5: parse error: unexpected <op:+>"],
    );
    check(
        "foo[5m]",
        expect![[r#"error: 1:4: parse error: unexpected "[""#]],
    );
    check(
        "foo offset 5m",
        expect!["error: 1:5: parse error: unexpected <offset>"],
    );
    check(
        "sum(foo)",
        expect![[r#"error: 1:4: parse error: unexpected "(""#]],
    );
    check(
        "(foo)",
        expect![[r#"error: 1:1: parse error: unexpected "(""#]],
    );
    check(
        &"(".repeat(100_000),
        expect![[r#"error: 1:1: parse error: unexpected "(""#]],
    );
    check(
        r#"{a=~"("}"#,
        expect![[r#"
            error: 1:2: parse error: invalid regular expression "(" for label a: regex parse error:
                ^(?:()$
                 ^
            error: unclosed group"#]],
    );
}
