//! Throughput and memory benchmark for `reportflow::integrity`.
//!
//! Run with `cargo bench -p reportflow --bench integrity`. It generates (once,
//! cached under `target/reportflow-bench/`) a deterministic JSON report of
//! 256 MiB, gzipped at level 6, and then measures in the same run, always in
//! 64 KiB input chunks:
//!
//! 1. the `Decoder` pipeline (MD5 of raw bytes + gunzip + CRC-32 + limits),
//!    on the build's inflate backend (zlib-rs natively; miniz_oxide with
//!    `--features miniz-inflate`), with and without the MD5 fingerprint,
//! 2. miniz_oxide's raw inflate with the same window strategy and no checks,
//! 3. flate2 with the zlib-rs backend (`MultiGzDecoder`, and raw
//!    `Decompress` with no checks: the reference the pipeline is held to),
//! 4. `gzip -dc` and 5. Node's `zlib.createGunzip` as subprocesses,
//!
//! then our MD5 against `openssl md5`, and finally the peak RSS of the
//! pipeline over 64 MiB, 256 MiB and 1 GiB reports, each in a child process.
//! Timings are the best of several interleaved rounds, so a busy machine
//! disturbs them less. MB/s means 10^6 bytes of decompressed output per
//! second (MD5: of hashed bytes).
//!
//! Build with `--features md5-asm` to measure the assembly MD5, and with
//! `--features miniz-inflate` to measure the pipeline on miniz_oxide.
//!
//! Environment: `REPORTFLOW_BENCH_MIB` (report size, default 256),
//! `REPORTFLOW_BENCH_ROUNDS` (default 5), `REPORTFLOW_BENCH_DIR`.

// A benchmark is a host: it reads files, spawns processes and reads the clock,
// which the core crate itself never does.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;
use reportflow::integrity::{Crc32, Decoder, Gunzip, Limits, Md5, Md5Digest};

const CHUNK: usize = 64 * 1024;
const MIB: u64 = 1 << 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss-child") {
        let path = args.get(i + 1).expect("--rss-child needs a path");
        rss_child(Path::new(path));
        return;
    }
    if args.iter().any(|a| a == "--rss-idle") {
        println!("{}", vm_hwm_kib());
        return;
    }

    let mib: u64 = env_or("REPORTFLOW_BENCH_MIB", 256);
    let rounds: usize = env_or("REPORTFLOW_BENCH_ROUNDS", 5);
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).expect("create bench dir");

    let t = Instant::now();
    let (plain_path, gz_path) = ensure_report(&dir, mib);
    let plain = std::fs::read(&plain_path).expect("read report");
    let gz = std::fs::read(&gz_path).expect("read gzip report");
    let gz_md5 = Md5::digest(&gz);
    println!(
        "report: {} ({:.1} MiB JSON, {:.1} MiB gzip, ratio {:.1}x), ready in {:.1}s",
        gz_path.display(),
        plain.len() as f64 / MIB as f64,
        gz.len() as f64 / MIB as f64,
        plain.len() as f64 / gz.len() as f64,
        t.elapsed().as_secs_f64()
    );
    // Correctness before speed.
    assert_eq!(pipeline_pull(&gz, gz_md5), plain.len() as u64);
    assert_eq!(raw_miniz(&gz), plain.len() as u64);
    assert_eq!(flate2_zlib_rs(&gz), plain.len() as u64);
    assert_eq!(md5_ours(&plain), Md5::digest(&plain));

    let n = plain.len() as u64;
    type Case<'a> = (&'static str, Box<dyn Fn() -> u64 + 'a>);
    let cases: Vec<Case> = vec![
        (
            "pipeline pull (Decoder: md5+gunzip+crc+limits)",
            Box::new(|| pipeline_pull(&gz, gz_md5)),
        ),
        (
            "pipeline pull, fingerprint off (no md5)",
            Box::new(|| pipeline_pull_no_md5(&gz)),
        ),
        (
            "pipeline push (Decoder, zero-copy sink)",
            Box::new(|| pipeline_push(&gz, gz_md5)),
        ),
        (
            "gunzip pull (Gunzip: crc+limits, no md5)",
            Box::new(|| gunzip_pull(&gz)),
        ),
        (
            "raw miniz_oxide inflate (same window, no checks)",
            Box::new(|| raw_miniz(&gz)),
        ),
        (
            "miniz_oxide stream::inflate (32K ring, 64K out)",
            Box::new(|| miniz_stream(&gz)),
        ),
        (
            "flate2 + zlib-rs MultiGzDecoder",
            Box::new(|| flate2_zlib_rs(&gz)),
        ),
        (
            "flate2 + zlib-rs raw Decompress (no checks)",
            Box::new(|| zlib_rs_raw(&gz)),
        ),
        (
            "zlib-rs hand-rolled pipeline (md5+inflate+crc)",
            Box::new(|| zlib_rs_pipeline(&gz, gz_md5)),
        ),
        (
            "MD5 alone: reportflow Md5 over decoded bytes",
            Box::new(|| {
                black_box(md5_ours(&plain));
                n
            }),
        ),
    ];
    let mut best = vec![Sample::MAX; cases.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in cases.iter().enumerate() {
            let (out, sample) = Sample::measure(f);
            assert_eq!(out, n);
            if let Some(b) = best.get_mut(i) {
                *b = b.min(sample);
            }
        }
    }
    let gzip_dc = best_child(3, Command::new("gzip").arg("-dc").arg(&gz_path));
    let node_script = "const fs=require('fs'),zlib=require('zlib');\
        fs.createReadStream(process.argv[1],{highWaterMark:65536})\
        .pipe(zlib.createGunzip()).pipe(fs.createWriteStream('/dev/null'))\
        .on('finish',()=>process.exit(0));";
    let node = best_child(
        3,
        Command::new("node").args(["-e", node_script]).arg(&gz_path),
    );
    let openssl = best_child(3, Command::new("openssl").arg("md5").arg(&plain_path));

    println!(
        "\n{:.0} MiB decoded, 64 KiB chunks, best of {rounds} (subprocesses: best of 3).",
        n as f64 / MIB as f64
    );
    println!(
        "MB/s = 10^6 decoded (MD5: hashed) bytes per second of on-CPU time; wall ms for reference."
    );
    println!(
        "{:<52} {:>8} {:>8} {:>8}",
        "case", "wall ms", "cpu ms", "MB/s"
    );
    let row = |name: &str, s: Option<Sample>| match s {
        Some(s) => println!(
            "{name:<52} {:>8.1} {:>8.1} {:>8.1}",
            s.wall.as_secs_f64() * 1e3,
            s.cpu.as_secs_f64() * 1e3,
            s.mbps(n)
        ),
        None => println!("{name:<52} {:>8} (command not found or failed)", "skipped"),
    };
    for ((name, _), s) in cases.iter().zip(&best) {
        row(name, Some(*s));
    }
    row("gzip -dc file > /dev/null (subprocess)", gzip_dc);
    row("node zlib.createGunzip pipe (subprocess)", node);
    row("openssl md5 on the decoded file (subprocess)", openssl);

    let speed = |i: usize| best.get(i).map_or(0.0, |s| s.mbps(n));
    let (pull, no_md5, push, raw, zrs_raw, zrs_pipe, md5) = (
        speed(0),
        speed(1),
        speed(2),
        speed(4),
        speed(7),
        speed(8),
        speed(9),
    );
    println!("\nratios (inflate backend of this build: {}):", backend());
    println!(
        "  pipeline pull / flate2+zlib-rs raw         {:.3}  (target >= 0.75)",
        pull / zrs_raw
    );
    println!(
        "  pipeline pull, no md5 / flate2+zlib-rs raw {:.3}  (target >= 0.9)",
        no_md5 / zrs_raw
    );
    println!(
        "  pipeline pull / raw miniz (same strategy)  {:.3}",
        pull / raw
    );
    println!(
        "  pipeline push / raw miniz (same strategy)  {:.3}",
        push / raw
    );
    println!(
        "  pipeline pull / miniz stream::inflate      {:.3}",
        pull / speed(5)
    );
    println!(
        "  pipeline pull / flate2+zlib-rs MultiGz     {:.3}",
        pull / speed(6)
    );
    println!(
        "  zlib-rs hand-rolled pipeline / zlib-rs raw {:.3}",
        zrs_pipe / zrs_raw
    );
    for (name, s) in [("gzip -dc", gzip_dc), ("node createGunzip", node)] {
        match s {
            Some(s) => println!("  pipeline pull / {name:<26} {:.3}", pull / s.mbps(n)),
            None => println!("  pipeline pull / {name:<26} skipped"),
        }
    }
    match openssl {
        Some(s) => println!(
            "  md5 ours / openssl md5                     {:.3}  (target >= 0.85)",
            md5 / s.mbps(n)
        ),
        None => println!("  md5 ours / openssl md5                     skipped"),
    }

    // Peak RSS per report size, each in a fresh child process.
    println!("\npeak RSS of the pull pipeline streaming a file in 64 KiB chunks (child process):");
    let idle = child_output(&["--rss-idle"]);
    println!("  {:<28} {:>8} KiB", "idle child (baseline)", idle.trim());
    let gz64 = ensure_report(&dir, 64).1;
    let gz1g = dir.join("report-1024m-as-4-members.json.gz");
    if !gz1g.exists() {
        let mut f = BufWriter::new(File::create(&gz1g).expect("create 1 GiB file"));
        for _ in 0..4 {
            f.write_all(&gz).expect("write 1 GiB file");
        }
        f.flush().expect("flush");
    }
    drop(cases);
    drop(plain);
    drop(gz);
    for (label, path) in [
        ("64 MiB", gz64),
        (&format!("{mib} MiB") as &str, gz_path.clone()),
        ("1 GiB (4 members)", gz1g),
    ] {
        let out = child_output(&["--rss-child", path.to_str().expect("utf-8 path")]);
        println!(
            "  {label:<28} {:>8} KiB   ({})",
            out.split_whitespace().next().unwrap_or("?"),
            out.trim()
        );
    }
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bench_dir() -> PathBuf {
    if let Ok(d) = std::env::var("REPORTFLOW_BENCH_DIR") {
        return PathBuf::from(d);
    }
    // target/<profile>/deps/integrity-<hash> → target/reportflow-bench
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("reportflow-bench")
}

/// Wall and on-CPU time of one run.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
}

impl Sample {
    const MAX: Self = Self {
        wall: Duration::MAX,
        cpu: Duration::MAX,
    };

    fn measure<T>(f: impl FnOnce() -> T) -> (T, Self) {
        let (t, c) = (Instant::now(), thread_cpu());
        let out = f();
        let cpu = thread_cpu().saturating_sub(c);
        let wall = t.elapsed();
        // Without /proc (cpu == 0) fall back to wall time.
        let cpu = if cpu.is_zero() { wall } else { cpu };
        (out, Self { wall, cpu })
    }

    fn min(self, other: Self) -> Self {
        if other.cpu < self.cpu {
            other
        } else {
            self
        }
    }

    fn mbps(&self, bytes: u64) -> f64 {
        bytes as f64 / self.cpu.as_secs_f64() / 1e6
    }
}

/// On-CPU time of the calling thread (ns precision, from schedstat).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// CPU time of waited-for children (user + system, clock ticks of 10 ms).
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the ")" closing the command name start at field 3;
    // cutime and cstime are fields 16 and 17.
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let ticks: u64 = after
        .split_whitespace()
        .skip(13)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Best (by CPU time) of `rounds` runs of a subprocess with stdout to /dev/null.
fn best_child(rounds: usize, cmd: &mut Command) -> Option<Sample> {
    let mut best: Option<Sample> = None;
    for _ in 0..rounds {
        let (t, c) = (Instant::now(), children_cpu());
        let ok = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
        let wall = t.elapsed();
        let cpu = children_cpu().saturating_sub(c);
        let cpu = if cpu.is_zero() { wall } else { cpu };
        let s = Sample { wall, cpu };
        best = Some(best.map_or(s, |b| b.min(s)));
    }
    best
}

fn child_output(args: &[&str]) -> String {
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe).args(args).output().expect("run child");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Peak resident set size of this process, in KiB, from /proc.
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn rss_child(path: &Path) {
    let mut f = File::open(path).expect("open report");
    let mut dec = Decoder::new(Limits::default(), None);
    let mut input = vec![0u8; CHUNK];
    let mut out = vec![0u8; CHUNK];
    loop {
        let n = f.read(&mut input).expect("read report");
        if n == 0 {
            break;
        }
        let mut rest = &input[..n];
        loop {
            let p = dec.pull(rest, &mut out).expect("decode");
            black_box(&out[..p.produced]);
            rest = &rest[p.consumed..];
            if p.is_stalled() {
                break;
            }
        }
    }
    let s = dec.finish().expect("finish");
    println!(
        "{} decoded={} MiB members={}",
        vm_hwm_kib(),
        s.decoded_bytes / MIB,
        s.members
    );
}

// ---------------------------------------------------------------- cases

fn pipeline_pull(gz: &[u8], md5: Md5Digest) -> u64 {
    let mut dec = Decoder::new(Limits::default(), Some(md5));
    let mut out = vec![0u8; CHUNK];
    for chunk in gz.chunks(CHUNK) {
        let mut rest = chunk;
        loop {
            let p = dec.pull(rest, &mut out).expect("pull");
            black_box(&out[..p.produced]);
            rest = &rest[p.consumed..];
            if p.is_stalled() {
                break;
            }
        }
    }
    dec.finish().expect("finish").decoded_bytes
}

/// The pipeline as a host that verifies no digest runs it with
/// `JobConfig::md5_fingerprint` off.
fn pipeline_pull_no_md5(gz: &[u8]) -> u64 {
    let mut dec = Decoder::new(Limits::default(), None).with_fingerprint(false);
    let mut out = vec![0u8; CHUNK];
    for chunk in gz.chunks(CHUNK) {
        let mut rest = chunk;
        loop {
            let p = dec.pull(rest, &mut out).expect("pull");
            black_box(&out[..p.produced]);
            rest = &rest[p.consumed..];
            if p.is_stalled() {
                break;
            }
        }
    }
    dec.finish().expect("finish").decoded_bytes
}

/// The inflate backend `Decoder` was built with.
fn backend() -> &'static str {
    if cfg!(feature = "miniz-inflate") {
        "miniz_oxide"
    } else {
        "zlib-rs"
    }
}

fn pipeline_push(gz: &[u8], md5: Md5Digest) -> u64 {
    let mut dec = Decoder::new(Limits::default(), Some(md5));
    let mut n = 0u64;
    for chunk in gz.chunks(CHUNK) {
        dec.push(chunk, &mut |b: &[u8]| n += black_box(b).len() as u64)
            .expect("push");
    }
    let s = dec.finish().expect("finish");
    assert_eq!(s.decoded_bytes, n);
    n
}

fn gunzip_pull(gz: &[u8]) -> u64 {
    let mut g = Gunzip::new(Limits::default());
    let mut out = vec![0u8; CHUNK];
    for chunk in gz.chunks(CHUNK) {
        let mut rest = chunk;
        loop {
            let p = g.pull(rest, &mut out).expect("pull");
            black_box(&out[..p.produced]);
            rest = &rest[p.consumed..];
            if p.is_stalled() {
                break;
            }
        }
    }
    g.finish().expect("finish").decompressed_bytes
}

/// The deflate body of a single-member gzip without optional header fields.
fn deflate_body(gz: &[u8]) -> &[u8] {
    assert_eq!(gz[3], 0, "bench file has no optional header fields");
    &gz[10..gz.len() - 8]
}

/// miniz_oxide with the pipeline's strategy (32 KiB history + 224 KiB span,
/// non-wrapping, slide when full) and nothing else.
fn raw_miniz(gz: &[u8]) -> u64 {
    const WINDOW: usize = 32 * 1024;
    const BUF: usize = 256 * 1024;
    let mut r = Box::<DecompressorOxide>::default();
    let mut buf = vec![0u8; BUF];
    let mut write = 0usize;
    let mut total = 0u64;
    let flags = inflate_flags::TINFL_FLAG_HAS_MORE_INPUT
        | inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    for chunk in deflate_body(gz).chunks(CHUNK) {
        let mut rest = chunk;
        loop {
            if BUF - write < 4096 {
                buf.copy_within(write - WINDOW..write, 0);
                write = WINDOW;
            }
            let (status, c, p) = decompress(&mut r, rest, &mut buf, write, flags);
            black_box(&buf[write..write + p]);
            write += p;
            total += p as u64;
            rest = &rest[c..];
            match status {
                TINFLStatus::Done => return total,
                TINFLStatus::NeedsMoreInput => break,
                TINFLStatus::HasMoreOutput => {}
                s => panic!("inflate failed: {s:?}"),
            }
        }
    }
    total
}

/// miniz_oxide's own streaming API, as flate2's miniz backend uses it.
fn miniz_stream(gz: &[u8]) -> u64 {
    use miniz_oxide::inflate::stream::{inflate, InflateState};
    use miniz_oxide::{DataFormat, MZFlush, MZStatus};
    let mut st = InflateState::new_boxed(DataFormat::Raw);
    let mut out = vec![0u8; CHUNK];
    let mut total = 0u64;
    for chunk in deflate_body(gz).chunks(CHUNK) {
        let mut rest = chunk;
        loop {
            let r = inflate(&mut st, rest, &mut out, MZFlush::None);
            black_box(&out[..r.bytes_written]);
            total += r.bytes_written as u64;
            rest = &rest[r.bytes_consumed..];
            match r.status {
                Ok(MZStatus::StreamEnd) => return total,
                Ok(_) if r.bytes_written == 0 && r.bytes_consumed == 0 => break,
                Ok(_) => {}
                Err(miniz_oxide::MZError::Buf) => break,
                Err(e) => panic!("inflate failed: {e:?}"),
            }
        }
    }
    total
}

fn flate2_zlib_rs(gz: &[u8]) -> u64 {
    let reader = std::io::BufReader::with_capacity(CHUNK, gz);
    let mut d = flate2::bufread::MultiGzDecoder::new(reader);
    let mut out = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = d.read(&mut out).expect("flate2 read");
        if n == 0 {
            return total;
        }
        black_box(&out[..n]);
        total += n as u64;
    }
}

fn zlib_rs_raw(gz: &[u8]) -> u64 {
    let mut d = flate2::Decompress::new(false);
    let mut out = vec![0u8; CHUNK];
    for chunk in deflate_body(gz).chunks(CHUNK) {
        let mut rest = chunk;
        loop {
            let (i0, o0) = (d.total_in(), d.total_out());
            let st = d
                .decompress(rest, &mut out, flate2::FlushDecompress::None)
                .expect("zlib-rs inflate");
            let (c, p) = ((d.total_in() - i0) as usize, (d.total_out() - o0) as usize);
            black_box(&out[..p]);
            rest = &rest[c..];
            if st == flate2::Status::StreamEnd {
                return d.total_out();
            }
            if c == 0 && p == 0 {
                break;
            }
        }
    }
    d.total_out()
}

/// What `Decoder` would cost on a zlib-rs inflate backend: the same MD5 and
/// CRC-32 work around flate2's raw `Decompress` (zlib-rs).
fn zlib_rs_pipeline(gz: &[u8], md5: Md5Digest) -> u64 {
    let mut d = flate2::Decompress::new(false);
    let mut out = vec![0u8; CHUNK];
    let mut h = Md5::new();
    let mut crc = Crc32::new();
    h.update(&gz[..10]);
    for chunk in deflate_body(gz).chunks(CHUNK) {
        let mut rest = chunk;
        loop {
            let (i0, o0) = (d.total_in(), d.total_out());
            let st = d
                .decompress(rest, &mut out, flate2::FlushDecompress::None)
                .expect("zlib-rs inflate");
            let (c, p) = ((d.total_in() - i0) as usize, (d.total_out() - o0) as usize);
            h.update(&rest[..c]);
            crc.update(&out[..p]);
            black_box(&out[..p]);
            rest = &rest[c..];
            if st == flate2::Status::StreamEnd || (c == 0 && p == 0) {
                break;
            }
        }
    }
    h.update(&gz[gz.len() - 8..]);
    assert_eq!(h.finalize(), md5);
    assert_eq!(crc.value().to_le_bytes(), gz[gz.len() - 8..gz.len() - 4]);
    d.total_out()
}

fn md5_ours(data: &[u8]) -> Md5Digest {
    let mut h = Md5::new();
    for c in data.chunks(CHUNK) {
        h.update(c);
    }
    h.finalize()
}

// ---------------------------------------------------------------- data

/// Writes (once) a deterministic JSON-array report of at least `mib` MiB and
/// its gzip (level 6); returns both paths.
fn ensure_report(dir: &Path, mib: u64) -> (PathBuf, PathBuf) {
    let plain = dir.join(format!("report-{mib}m.json"));
    let gz = dir.join(format!("report-{mib}m.json.gz"));
    if plain.exists() && gz.exists() {
        return (plain, gz);
    }
    let target = mib * MIB;
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ mib);
    let mut p = BufWriter::with_capacity(1 << 20, File::create(&plain).expect("create report"));
    let mut z = flate2::write::GzEncoder::new(
        BufWriter::with_capacity(1 << 20, File::create(&gz).expect("create gzip")),
        flate2::Compression::new(6),
    );
    let mut block = Vec::with_capacity(1 << 20);
    let mut written = 0u64;
    let mut first = true;
    block.extend_from_slice(b"[\n");
    while written + (block.len() as u64) < target {
        if !first {
            block.extend_from_slice(b",\n");
        }
        first = false;
        record(&mut rng, &mut block);
        if block.len() >= 1 << 20 {
            p.write_all(&block).expect("write");
            z.write_all(&block).expect("gzip");
            written += block.len() as u64;
            block.clear();
        }
    }
    block.extend_from_slice(b"\n]\n");
    p.write_all(&block).expect("write");
    z.write_all(&block).expect("gzip");
    p.flush().expect("flush");
    z.finish().expect("gzip finish").flush().expect("flush");
    (plain, gz)
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One Amazon-style sales-and-traffic record.
fn record(rng: &mut XorShift, out: &mut Vec<u8>) {
    const ALNUM: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
    const WORDS: &[&str] = &[
        "Organic",
        "Cotton",
        "Bamboo",
        "Kitchen",
        "Towel",
        "Set",
        "Stainless",
        "Steel",
        "Water",
        "Bottle",
        "Wireless",
        "Charger",
        "Pack",
        "Large",
        "Blue",
        "Premium",
        "Travel",
        "Mug",
        "Yoga",
        "Mat",
        "LED",
        "Desk",
        "Lamp",
        "Phone",
        "Case",
        "for",
        "with",
        "Pet",
        "Brush",
    ];
    const MARKETS: &[&str] = &[
        "ATVPDKIKX0DER",
        "A1F83G8C2ARO7P",
        "A1PA6795UKMFR9",
        "A13V1IB3VIYZZH",
    ];
    let day = 1 + rng.below(28);
    let month = 1 + rng.below(12);
    let asin_seed = rng.below(5000);
    let mut asin = String::from("B0");
    let mut s = asin_seed.wrapping_mul(2_654_435_761);
    for _ in 0..8 {
        asin.push(char::from(ALNUM[(s % ALNUM.len() as u64) as usize]));
        s /= ALNUM.len() as u64;
        s = s.wrapping_add(asin_seed * 31);
    }
    let mut title = String::new();
    for i in 0..(3 + asin_seed % 6) {
        if i > 0 {
            title.push(' ');
        }
        title.push_str(WORDS[((asin_seed + i * 7) % WORDS.len() as u64) as usize]);
    }
    let units = rng.below(40);
    let price_cents = 499 + (asin_seed * 137) % 9000;
    let sessions = units * 3 + rng.below(500);
    let _ = write!(
        out,
        "  {{\"date\":\"2024-{month:02}-{day:02}\",\"parentAsin\":\"{asin}\",\"childAsin\":\"{asin}\",\
         \"sku\":\"SKU-{asin_seed:05}-{}\",\"title\":\"{title}\",\"marketplaceId\":\"{}\",\
         \"salesByAsin\":{{\"unitsOrdered\":{units},\"orderedProductSales\":{{\"amount\":{}.{:02},\"currencyCode\":\"USD\"}},\
         \"totalOrderItems\":{}}},\"trafficByAsin\":{{\"browserSessions\":{sessions},\"mobileAppSessions\":{},\
         \"pageViews\":{},\"buyBoxPercentage\":{}.{},\"unitSessionPercentage\":{}.{:02}}}}}",
        ["RED", "BLU", "GRN", "BLK"][(asin_seed % 4) as usize],
        MARKETS[(asin_seed % 4) as usize],
        units * price_cents / 100,
        units * price_cents % 100,
        units.saturating_sub(rng.below(3)),
        rng.below(800),
        sessions * 2 + rng.below(100),
        50 + rng.below(50),
        rng.below(10),
        rng.below(30),
        rng.below(100),
    );
}
