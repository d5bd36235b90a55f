//! Native parser throughput (issue: Performance): parse each corpus message and
//! read the fields every UA reads (method or status, Call-ID, CSeq, From tag, top
//! Via branch). Prints MB/s through criterion's throughput report.
//!
//! `cargo bench --bench parse`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use imsip::message::Message;
use std::hint::black_box;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("benches/corpus")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sip"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// What a UA reads from every message.
fn parse_and_read(bytes: &[u8]) -> usize {
    let m = Message::parse(bytes).expect("corpus messages parse");
    let mut n = m.status().map_or(0, usize::from) + m.method().map_or(0, |x| x.as_str().len());
    n += m.call_id().map_or(0, str::len);
    n += m.cseq().map_or(0, |c| c.seq as usize);
    n += m
        .from()
        .ok()
        .and_then(|f| f.tag().map(str::len))
        .unwrap_or(0);
    n += m
        .top_via()
        .ok()
        .and_then(|v| v.branch().map(str::len))
        .unwrap_or(0);
    n
}

fn bench(c: &mut Criterion) {
    let corpus = corpus();
    let total: usize = corpus.iter().map(|(_, b)| b.len()).sum();
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("corpus (6 OMA IM messages) + UA fields", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|(_, m)| parse_and_read(black_box(m)))
                .sum::<usize>()
        })
    });
    g.finish();
    let mut g = c.benchmark_group("parse-one");
    for (name, bytes) in &corpus {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(name.as_str(), |b| {
            b.iter(|| parse_and_read(black_box(bytes)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
