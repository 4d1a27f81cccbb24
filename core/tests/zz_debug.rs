//! scratch
use reportflow::sim::*;
use reportflow::*;
#[test]
fn dbg() {
    let start = Millis(1_709_251_200_000);
    let sandbox = Sandbox::new(SandboxConfig::default().with_seed(17909048990610020885).with_rows(44).with_generation_ms(0).with_faults("corrupt-body:always".parse().unwrap()));
    let mut config = sandbox.job_config(providers::Provider::AmazonAds);
    config.retry = RetryPolicy::new(1, 2000, 120000);
    let job = ReportJob::new(amazon_ads::sample_spec(start), config, amazon_ads::credentials(), start).unwrap();
    let mut h = Harness::new(job, sandbox, start).with_chunks(ChunkPlan::seeded(0, 15, 512));
    let run = h.drive_bounded(30000).unwrap();
    for r in h.sandbox().requests() { println!("{} {} {} {:?}", r.at, r.path.chars().take(60).collect::<String>(), r.status, r.fault); }
    println!("{:?}", run.outcome);
    let truth = h.sandbox().report_content(&run.summary().unwrap().report_id).unwrap();
    println!("equal {}", truth == run.data);
    let gz = integrity::gzip_compress(&truth, 6);
    println!("gzip len {} md5 {}", gz.len(), integrity::Md5::digest(&gz).to_hex());
}
#[test]
fn flips() {
    let start = Millis(1_709_251_200_000);
    let sandbox = Sandbox::new(SandboxConfig::default().with_seed(17909048990610020885).with_rows(44));
    let _ = start;
    let mut h = Harness::new(ReportJob::new(amazon_ads::sample_spec(start), sandbox.job_config(providers::Provider::AmazonAds), amazon_ads::credentials(), start).unwrap(), sandbox, start);
    let run = h.drive().unwrap();
    let truth = h.sandbox().report_content(&run.summary().unwrap().report_id).unwrap();
    let gz = integrity::gzip_compress(&truth, 6);
    for p in 10..gz.len() {
        let mut b = gz.clone();
        b[p] ^= 0xff;
        if let Ok(out) = integrity::gunzip(&b, integrity::Limits::default()) {
            println!("flip at {p}/{} decodes ok; same={}", gz.len(), out == truth);
        }
    }
}
#[test]
fn dump() {
    let start = Millis(1_709_251_200_000);
    let sandbox = Sandbox::new(SandboxConfig::default().with_seed(17909048990610020885).with_rows(44));
    let mut h = Harness::new(ReportJob::new(amazon_ads::sample_spec(start), sandbox.job_config(providers::Provider::AmazonAds), amazon_ads::credentials(), start).unwrap(), sandbox, start);
    let run = h.drive().unwrap();
    let truth = h.sandbox().report_content(&run.summary().unwrap().report_id).unwrap();
    let gz = integrity::gzip_compress(&truth, 6);
    std::fs::write("/tmp/dbg/truth.gz", &gz).unwrap();
}
