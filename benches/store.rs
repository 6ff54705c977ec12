//! SQLite store on generated sightings: committing a batch received from a source (the
//! county's hot path; 85 % read plates that recur, so plate-hop upkeep is paid) and a one-hour
//! search by camera and class over 100k sightings.
//! `cargo bench -p xueliang-store`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use xueliang_store as store;

use base::{Sighting, VehicleClass};

fn sighting(i: u64) -> Sighting {
    Sighting {
        key: base::SightingKey {
            origin: "edge-1".into(),
            seq: i + 1,
        },
        camera: format!("cam-{}", i % 50),
        device_id: format!("cam-{}", i % 50),
        pass_time_ms: 1_700_000_000_000 + (i as i64) * 100,
        class: VehicleClass::ALL[(i % 9) as usize],
        class_confidence: 0.8,
        // 85 % read, from 5,000 plates: each plate comes back, as vehicles do.
        plate: if i % 20 < 17 {
            base::PlateRead {
                state: base::PlateState::Read,
                text: Some(format!("晋M{:05}", (i * 7919) % 5000)),
                confidence: 0.9,
                ..Default::default()
            }
        } else {
            base::PlateRead::default()
        },
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = store::Store::open(&dir.path().join("bench.sqlite")).unwrap();
    let mut next = 0u64;
    c.bench_function("append batch of 256 (new source seqs)", |b| {
        b.iter(|| {
            let batch: Vec<_> = (next..next + 256)
                .map(|i| (i + 1, store::Item::Sighting(sighting(i))))
                .collect();
            let last = next + 256;
            next = last;
            store
                .append(&store::Batch::new("edge-1", &batch, last), true)
                .unwrap()
        })
    });

    let big = store::Store::open(&dir.path().join("search.sqlite")).unwrap();
    for chunk in (0..100_000u64).collect::<Vec<_>>().chunks(1000) {
        let batch: Vec<_> = chunk
            .iter()
            .map(|i| (i + 1, store::Item::Sighting(sighting(*i))))
            .collect();
        let last = batch.last().unwrap().0;
        big.append(&store::Batch::new("edge-1", &batch, last), false)
            .unwrap();
    }
    let q = store::Query {
        from_ms: 1_700_000_000_000 + 3_600_000,
        to_ms: 1_700_000_000_000 + 7_200_000,
        cameras: vec!["cam-7".into()],
        classes: vec![VehicleClass::Car],
        limit: 100,
        cursor: None,
    };
    c.bench_function("search 1 h, 1 camera, 1 class, of 100k", |b| {
        b.iter(|| big.search(black_box(&q)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
