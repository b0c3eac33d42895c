//! The benchmarks' shared table: one Markdown row per figure, and medians.
//! Used by `bench.rs` here and by `tests/examples/window_bench.rs` at the
//! repository's root (included by path), so both print the same table.

/// Prints one row: the figure, its result, its goal, and whether it was met
/// (`None` for a figure without a goal).
// Every caller passes a fresh `format!`; taking it by value keeps those calls short.
#[allow(clippy::needless_pass_by_value)]
pub fn row(figure: &str, result: String, goal: &str, met: Option<bool>) {
    let met = match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "—",
    };
    println!("| {figure} | {result} | {goal} | {met} |");
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { f64::midpoint(values[mid - 1], values[mid]) }
}
