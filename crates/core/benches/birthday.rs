//! How long the days-until-birthday computation takes (it runs on every GET).

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use volley_core::model::birthday::days_until_birthday;

fn bench(c: &mut Criterion) {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
    let mut group = c.benchmark_group("days_until_birthday");
    for (label, born, today) in [
        ("later_this_year", d(1990, 12, 25), d(2026, 11, 23)),
        ("next_year", d(1990, 1, 5), d(2026, 11, 23)),
        ("leap_day_in_common_year", d(2000, 2, 29), d(2026, 1, 10)),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| days_until_birthday(black_box(born), black_box(today)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
