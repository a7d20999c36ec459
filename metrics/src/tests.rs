//! Round trips of the wire format, history and Prometheus text.

use crate::history::MetricHistory;
use crate::live::{Kind, Registry};
use crate::prometheus::{render, Source};
use crate::wire::{decode, encode_full, encode_incremental, DecodeError, ReportEncoder};
use crate::{Entry, MetricData, Node};
use serde_json::json;

fn leaf(key: &str, v: f64) -> Node {
    Node {
        key: key.into(),
        values: vec![v],
        subs: vec![],
    }
}

fn inbound(count: f64, peers: &[(&str, f64)]) -> MetricData {
    let mut e = Entry::new("pipy_inbound_count", "Gauge", "listen/peer");
    e.root.values = vec![count];
    e.root.subs = vec![Node {
        key: "[0.0.0.0]:16100/TCP".into(),
        values: vec![count],
        subs: peers.iter().map(|(k, v)| leaf(k, *v)).collect(),
    }];
    MetricData { entries: vec![e] }
}

#[test]
fn full_reports_round_trip() {
    let data = inbound(3.0, &[("10.0.0.1", 2.0), ("10.0.0.2", 1.0)]);
    let v = encode_full(&data);
    assert_eq!(
        v.to_string(),
        r#"{"version":0,"roots":[{"k":"pipy_inbound_count","t":"Gauge","l":"listen/peer","v":3,"s":[{"k":"[0.0.0.0]:16100/TCP","v":3,"s":[{"k":"10.0.0.1","v":2},{"k":"10.0.0.2","v":1}]}]}]}"#
    );
    let d = decode(&v, None).unwrap();
    assert_eq!(d.data, data);
    assert_eq!((d.version, d.incremental), (0, false));
}

#[test]
fn incremental_reports_reduce_known_series() {
    let a = inbound(1.0, &[("10.0.0.1", 1.0)]);
    let b = inbound(79.0, &[("10.0.0.1", 78.0), ("10.0.0.2", 1.0)]);
    let v = encode_incremental(&a, &b, 1700, 0).unwrap();
    assert_eq!(
        v.to_string(),
        r#"{"version":1700,"last":0,"roots":[{"v":79,"s":[{"v":79,"s":[78,{"k":"10.0.0.2","v":1}]}]}]}"#
    );
    let d = decode(&v, Some((&a, 0))).unwrap();
    assert_eq!(d.data, b);
    assert_eq!((d.version, d.incremental), (1700, true));
    // On another base than the one the worker assumes: refused.
    assert_eq!(decode(&v, Some((&a, 5))), Err(DecodeError::UnknownBase));
    assert_eq!(decode(&v, None), Err(DecodeError::UnknownBase));
}

#[test]
fn structure_changes_fall_back_to_full_reports() {
    let a = inbound(2.0, &[("10.0.0.1", 1.0), ("10.0.0.2", 1.0)]);
    let b = inbound(1.0, &[("10.0.0.2", 1.0)]);
    assert!(encode_incremental(&a, &b, 2, 1).is_none());
    let mut enc = ReportEncoder::new();
    assert!(enc.encode(a.clone(), 10).get("last").is_none());
    enc.answered(true);
    let inc = enc.encode(a.clone(), 20);
    assert_eq!(inc["last"], json!(0));
    enc.answered(true);
    // Series gone: full again.
    let full = enc.encode(b.clone(), 30);
    assert!(full.get("last").is_none());
    assert_eq!(decode(&full, None).unwrap().data, b);
    // Anything but 206: full again.
    enc.answered(false);
    assert!(enc.encode(b, 40).get("last").is_none());
}

#[test]
fn histograms_round_trip_and_print_cumulative_buckets() {
    let reg = Registry::new();
    let h = reg.metric(
        "lat",
        Kind::Histogram(vec![1.0, 2.0, f64::INFINITY]),
        &["peer"],
    );
    let p = h.with_labels(&["a"]).unwrap();
    for x in [0.5, 1.5, 1.7, 9.0] {
        p.observe(x);
    }
    let data = reg.snapshot();
    let e = data.get("lat").unwrap();
    assert_eq!(e.kind, r#"Histogram[1,2,"Inf"]"#);
    assert_eq!(e.root.subs[0].values, vec![1.0, 2.0, 1.0, 4.0, 12.7]);
    let v = encode_full(&data);
    assert!(v.to_string().contains(r#""v":[1,2,1,4,12.7]"#), "{v}");
    assert_eq!(decode(&v, None).unwrap().data, data);
    let text = render(&[Source {
        data: &data,
        labels: vec![],
    }]);
    assert_eq!(
        text,
        "# HELP lat \n\
         # TYPE lat histogram\n\
         lat_sum{peer=\"a\"} 12.7\n\
         lat_count{peer=\"a\"} 4\n\
         lat_bucket{le=\"1.0\",peer=\"a\"} 1\n\
         lat_bucket{le=\"2.0\",peer=\"a\"} 3\n\
         lat_bucket{le=\"+Inf\",peer=\"a\"} 4\n\
         # EOF\n"
    );
}

#[test]
fn threads_add_up_and_redefinitions_reuse() {
    let reg = std::sync::Arc::new(Registry::new());
    let g = reg.metric("g", Kind::Gauge, &[]);
    g.set(2.0);
    let r = reg.clone();
    std::thread::spawn(move || r.metric("g", Kind::Gauge, &[]).set(3.0))
        .join()
        .unwrap();
    assert_eq!(reg.snapshot().get("g").unwrap().root.values, vec![5.0]);
    // Same definition again (a reload): the same series.
    reg.metric("g", Kind::Gauge, &[]).add(1.5);
    assert_eq!(reg.snapshot().get("g").unwrap().root.values, vec![6.5]);
    // Another definition replaces it in place.
    reg.metric("g", Kind::Counter, &["x"]);
    let s = reg.snapshot();
    assert_eq!(
        (s.entries.len(), s.entries[0].kind.as_str()),
        (1, "Counter")
    );
}

#[test]
fn prometheus_text_merges_sources_with_extra_labels() {
    let a = inbound(1.0, &[("10.0.0.1", 1.0)]);
    let b = inbound(2.0, &[("10.0.0.\"2", 2.0)]);
    let text = render(&[
        Source {
            data: &a,
            labels: vec![("instance".into(), "1".into())],
        },
        Source {
            data: &b,
            labels: vec![("instance".into(), "w2".into())],
        },
    ]);
    assert_eq!(
        text,
        "# HELP pipy_inbound_count \n\
         # TYPE pipy_inbound_count gauge\n\
         pipy_inbound_count{instance=\"1\",listen=\"[0.0.0.0]:16100/TCP\",peer=\"10.0.0.1\"} 1\n\
         pipy_inbound_count{instance=\"w2\",listen=\"[0.0.0.0]:16100/TCP\",peer=\"10.0.0.\\\"2\"} 2\n\
         # EOF\n"
    );
}

#[test]
fn prometheus_text_names_counters_and_sanitises() {
    let mut hits = Entry::new("http.hits_total", "Counter", "path");
    hits.root.subs = vec![leaf("/a\nb", 3.0), leaf("/c", 0.5)];
    // A histogram with bounds that are not numbers or not increasing: dropped,
    // their samples counted in the next bucket. 1 in (-inf, 1], 2 + 4 + 8 in
    // (1, 2.5], 20 in all, so 5 above 2.5.
    let mut lat = Entry::new("lat", r#"Histogram[1,"x",0.5,2.5]"#, "");
    lat.root.values = vec![1.0, 2.0, 4.0, 8.0, 20.0, 99.5];
    // Counts that are not counts (from a broken report): 0 or the largest.
    let mut broken = Entry::new("broken", r#"Histogram[1,2]"#, "");
    broken.root.values = vec![f64::NAN, -3.0, 1e300, 0.0];
    let a = MetricData {
        entries: vec![hits, lat, broken],
    };
    // Another source: the same counter joins its family (the source's label,
    // sanitised, first); `lat` of another type is left out.
    let mut more_hits = Entry::new("http hits_total", "Counter", "path");
    more_hits.root.subs = vec![leaf("/d", 1.0)];
    let mut gauge = Entry::new("lat", "Gauge", "");
    gauge.root.values = vec![7.0];
    let b = MetricData {
        entries: vec![gauge, more_hits],
    };
    let text = render(&[
        Source {
            data: &a,
            labels: vec![],
        },
        Source {
            data: &b,
            labels: vec![("in-stance".into(), "2".into())],
        },
    ]);
    assert_eq!(
        text,
        "# HELP http_hits \n\
         # TYPE http_hits counter\n\
         http_hits_total{path=\"/a\\nb\"} 3\n\
         http_hits_total{path=\"/c\"} 0.5\n\
         http_hits_total{in_stance=\"2\",path=\"/d\"} 1\n\
         # HELP lat \n\
         # TYPE lat histogram\n\
         lat_sum 99.5\n\
         lat_count 20\n\
         lat_bucket{le=\"1.0\"} 1\n\
         lat_bucket{le=\"2.5\"} 15\n\
         lat_bucket{le=\"+Inf\"} 20\n\
         # HELP broken \n\
         # TYPE broken histogram\n\
         broken_sum 0.0\n\
         broken_count 18446744073709551615\n\
         broken_bucket{le=\"1.0\"} 0\n\
         broken_bucket{le=\"2.0\"} 0\n\
         broken_bucket{le=\"+Inf\"} 18446744073709551615\n\
         # EOF\n"
    );
    // No sources: nothing but the end.
    assert_eq!(render(&[]), "# EOF\n");
}

#[test]
fn history_keeps_sixty_samples() {
    let mut h = MetricHistory::new();
    for i in 0..65 {
        h.step(&inbound(i as f64, &[("p", i as f64)]));
    }
    let all = h.list();
    let v = all[0]["v"].as_array().unwrap();
    assert_eq!(
        (v.len(), v[0].clone(), v[59].clone()),
        (60, json!(5), json!(64))
    );
    assert!(all[0].get("s").is_none());
    let one = h.one("pipy_inbound_count");
    assert_eq!(one[0]["s"][0]["k"], json!("[0.0.0.0]:16100/TCP"));
    assert_eq!(one[0]["s"][0]["s"][0]["v"][59], json!(64));
    assert_eq!(h.one("nope"), json!([]));
}

#[test]
fn bad_metric_data_is_refused() {
    for bad in [
        json!([]),
        json!({"version":0}),
        json!({"roots":[1]}),
        json!({"roots":[{"k":"x"}]}),
        json!({"roots":[{"k":"x","t":"Counter","v":[1,2]}]}),
    ] {
        assert!(decode(&bad, None).is_err(), "{bad}");
    }
}
