//! Each provider's reply path: a job of a fuzzer-chosen provider runs
//! against its simulator until its n-th request, which gets a fuzzed answer
//! (status, headers, body in fuzzed chunks, or a transport failure); the job
//! then runs on. Never a panic, every outcome typed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use reportflow::sim::SimRequest;
use reportflow::{Action, Input, Millis};
use reportflow_fuzz::{drive, job, provider, Bytes, START};

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data);
    let (mut sandbox, _config, mut job) = job(provider(bytes.byte()));
    let target = usize::from(bytes.byte() % 12);
    let mut now: Millis = START;
    let mut sent = 0usize;
    for _ in 0..400 {
        match job.poll(now) {
            Action::Send(request) if sent == target => {
                answer_fuzzed(&mut job, now, request.id, &mut bytes);
                drive(&mut job, now, 64);
                return;
            }
            Action::Send(request) => {
                sent += 1;
                let response = sandbox.handle(now, &SimRequest::from_http(&request));
                let id = request.id;
                let _ = job.handle(
                    now,
                    Input::Head {
                        id,
                        status: response.status,
                        headers: &response.headers,
                    },
                );
                let _ = job.handle(
                    now,
                    Input::Chunk {
                        id,
                        bytes: &response.body,
                    },
                );
                let _ = job.handle(now, Input::End { id });
            }
            Action::Wait { until, .. } => now = now.max(until),
            Action::Done(_) | Action::Failed(_) => return,
            _ => {}
        }
    }
});

fn answer_fuzzed(
    job: &mut reportflow::ReportJob,
    now: Millis,
    id: reportflow::RequestId,
    bytes: &mut Bytes<'_>,
) {
    let status = 100 + (u16::from(bytes.byte()) << 8 | u16::from(bytes.byte())) % 500;
    let mut headers = Vec::new();
    for _ in 0..bytes.byte() % 4 {
        let name = [
            "content-type",
            "content-md5",
            "retry-after",
            "location",
            "x-ratelimit-resource-until",
            "content-length",
        ][usize::from(bytes.byte()) % 6];
        let n = usize::from(bytes.byte() % 64);
        headers.push((
            name.to_owned(),
            String::from_utf8_lossy(bytes.take(n)).into_owned(),
        ));
    }
    if job
        .handle(
            now,
            Input::Head {
                id,
                status,
                headers: &headers,
            },
        )
        .is_err()
    {
        return;
    }
    while !bytes.is_empty() {
        let n = usize::from(bytes.byte()) + 1;
        let chunk = bytes.take(n).to_vec();
        let _ = job.handle(now, Input::Chunk { id, bytes: &chunk });
        // Drain as a host does between chunks.
        for _ in 0..8 {
            if !matches!(job.poll(now), Action::Event(_)) {
                break;
            }
        }
    }
    let _ = job.handle(now, Input::End { id });
}
