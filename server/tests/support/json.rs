//! Comparing answers: JSON equal but for floats within 1e-9 relative.
#![allow(dead_code)]

use serde_json::Value as J;

/// The first place `got` differs from `want` (floats within 1e-9 relative), as a JSON
/// pointer with both values.
pub fn first_difference(path: &str, want: &J, got: &J) -> Option<String> {
    match (want, got) {
        (J::Number(a), J::Number(b)) => {
            let (x, y) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            let exact = a.is_u64() || a.is_i64();
            let ok = if exact && (b.is_u64() || b.is_i64()) {
                a == b
            } else {
                (x - y).abs() <= 1e-9 * x.abs().max(y.abs()) || x == y
            };
            (!ok).then(|| format!("{path}: engine {want}, ClickHouse {got}"))
        }
        (J::Array(a), J::Array(b)) => {
            if a.len() != b.len() {
                return Some(format!("{path}: engine has {} items, ClickHouse {}", a.len(), b.len()));
            }
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| first_difference(&format!("{path}/{i}"), x, y))
        }
        (J::Object(a), J::Object(b)) => {
            let (ka, kb): (Vec<_>, Vec<_>) = (a.keys().collect(), b.keys().collect());
            if ka != kb {
                return Some(format!("{path}: engine keys {ka:?}, ClickHouse keys {kb:?}"));
            }
            a.iter().find_map(|(k, x)| first_difference(&format!("{path}/{k}"), x, &b[k]))
        }
        _ => (want != got).then(|| format!("{path}: engine {want}, ClickHouse {got}")),
    }
}
