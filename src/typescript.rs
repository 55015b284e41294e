//! The TypeScript face of the specifications and results, generated from the Rust types
//! that parse and produce them (ts-rs derives, under `cfg(test)` only), so the package's
//! types cannot say something the engine does not accept.
//!
//! `SIGHTLINE_TYPES_OUT=www/engine cargo test -p sightline --lib typescript` (run by
//! `scripts/build.sh`) writes `spec.d.ts` (the types) and `spec.js` (the operator lists
//! the explorer's menus show) there; without the variable the test only checks them.

use ts_rs::{Config, TS};

use crate::compare::{CompareSpec, Comparison, Dimension, Fact, Measure, Other, SideSpec, SideStats, ValueDiff};
use crate::error::{ErrorInfo, ErrorKind};
use crate::heatmap::{Heatmap, HeatmapSpec, Scale};
use crate::query::events::{Events, EventsSpec};
use crate::query::filter::FILTER_OPS;
use crate::query::spec::{
    CalculationSpec, FilterSpec, HavingSpec, HeatmapOptions, NamedExpression, OrderSpec, QuerySpec, Value,
    CALCULATION_OPS, HAVING_OPS,
};
use crate::query::{NamedHeatmap, QueryResult};

const HEADER: &str =
    "// Generated from the engine's Rust types by src/typescript.rs (scripts/build.sh); do not edit.\n";

fn union(names: &[&str]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(" | ")
}

fn array(names: &[&str]) -> String {
    format!("[{}]", names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", "))
}

fn calculation_names() -> Vec<&'static str> {
    CALCULATION_OPS.iter().map(|&(name, _)| name).collect()
}

/// `export type X = ...;` with its doc comment, for one derived type.
fn decl<T: TS>(cfg: &Config) -> String {
    let docs = T::docs().map(|d| format!("{}\n", d.trim_end())).unwrap_or_default();
    format!("{docs}export {}\n", T::decl(cfg))
}

/// The declarations file.
pub fn declarations() -> String {
    // Counts are JSON numbers (the engine never returns more than 2^53 of anything).
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(HEADER);
    out.push_str(&format!(
        "/** A calculation's operator. */\nexport type CalculationOp = {};\n",
        union(&calculation_names())
    ));
    out.push_str(&format!("/** A filter's operator. */\nexport type FilterOp = {};\n", union(&FILTER_OPS)));
    out.push_str(&format!("/** A having's operator. */\nexport type HavingOp = {};\n", union(&HAVING_OPS)));
    out.push_str(
        "/** A value in results: integers beyond 2^53 arrive as decimal strings (a number would lose digits). */\n\
         export type ResultValue = string | number | boolean | null;\n\
         /** A result row: breakdown values and calculations, keyed as Honeycomb names them (`P99(duration_ms)`). */\n\
         export type ResultRow = Record<string, ResultValue>;\n",
    );
    for d in [
        decl::<Value>(&cfg),
        decl::<FilterSpec>(&cfg),
        decl::<CalculationSpec>(&cfg),
        decl::<OrderSpec>(&cfg),
        decl::<HavingSpec>(&cfg),
        decl::<HeatmapOptions>(&cfg),
        decl::<NamedExpression>(&cfg),
        decl::<QuerySpec>(&cfg),
        decl::<Scale>(&cfg),
        decl::<Heatmap>(&cfg),
        decl::<NamedHeatmap>(&cfg),
        decl::<QueryResult>(&cfg),
        decl::<SideSpec>(&cfg),
        decl::<CompareSpec>(&cfg),
        decl::<ValueDiff>(&cfg),
        decl::<Other>(&cfg),
        decl::<Dimension>(&cfg),
        decl::<SideStats>(&cfg),
        decl::<Measure>(&cfg),
        decl::<Fact>(&cfg),
        decl::<Comparison>(&cfg),
        decl::<EventsSpec>(&cfg),
        decl::<Events>(&cfg),
        decl::<HeatmapSpec>(&cfg),
        decl::<ErrorKind>(&cfg),
        decl::<ErrorInfo>(&cfg),
    ] {
        out.push_str(&d);
    }
    out.push_str(
        "/** The operators the engine accepts, in the order the explorer lists them. */\n\
         export declare const CALCULATION_OPS: readonly CalculationOp[];\n\
         export declare const FILTER_OPS: readonly FilterOp[];\n\
         export declare const HAVING_OPS: readonly HavingOp[];\n",
    );
    out
}

/// The operator lists as a module.
pub fn module() -> String {
    format!(
        "{HEADER}export const CALCULATION_OPS = Object.freeze({});\nexport const FILTER_OPS = Object.freeze({});\nexport const HAVING_OPS = Object.freeze({});\n",
        array(&calculation_names()),
        array(&FILTER_OPS),
        array(&HAVING_OPS),
    )
}

#[test]
fn typescript() {
    let d = declarations();
    // Every operator the parser accepts is in the types, and each spec type is exported.
    for (name, op) in CALCULATION_OPS {
        assert_eq!(crate::query::Op::parse(name), Some(op));
        assert!(d.contains(&format!("{name:?}")), "{name} missing");
    }
    for t in [
        "QuerySpec",
        "CompareSpec",
        "EventsSpec",
        "QueryResult",
        "Comparison",
        "Fact",
        "EventsResult",
        "Filter",
        "CompareSide",
        "EngineError",
        "ErrorKind",
    ] {
        assert!(d.contains(&format!("export type {t} = ")), "{t} missing:\n{d}");
    }
    // Optional fields of the specifications are optional in TypeScript, and no
    // 64-bit count became a bigint.
    assert!(d.contains("breakdowns?: Array<string>"), "{d}");
    assert!(d.contains("calculate_op: CalculationOp"), "{d}");
    assert!(!d.contains("bigint"), "{d}");
    let js = module();
    assert!(js.contains("\"RATE_MAX\"") && js.contains("\"not-in\""));
    if let Some(dir) = std::env::var_os("SIGHTLINE_TYPES_OUT") {
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("spec.d.ts"), d).unwrap();
        std::fs::write(dir.join("spec.js"), js).unwrap();
    }
}
