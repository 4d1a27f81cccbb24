//! The `Job` class: [`reportflow::ReportJob`] with JavaScript types.

use wasm_bindgen::prelude::*;

use reportflow::{Input, JobConfig, JobSpec, ReportJob, Snapshot, TransportFailure};

use crate::convert::{self, Failure};

/// One report lifecycle. Every method converts its arguments and calls the
/// one core method that does the work; there is no logic here.
///
/// Methods that take `now` want wall-clock milliseconds since the Unix epoch
/// (`Date.now()`); ids are the `request.id` of a `send` action. NaN,
/// negative or fractional numbers are refused with an `invalid_input` error.
#[wasm_bindgen]
pub struct Job {
    inner: ReportJob,
}

type JsResult<T> = Result<T, JsValue>;

/// A `JobConfig` from JavaScript: `null`/`undefined` for the defaults.
fn job_config(config: JsValue) -> JsResult<JobConfig> {
    if config.is_null() || config.is_undefined() {
        Ok(JobConfig::default())
    } else {
        Ok(convert::from_js("config", config)?)
    }
}

impl Job {
    /// Wraps a core job, lending it JavaScript's charset decoders when this
    /// module has none of its own (see `charsets.rs`).
    fn lending_charsets(inner: ReportJob) -> Self {
        #[cfg(all(target_arch = "wasm32", not(feature = "charsets")))]
        let inner = inner.with_foreign_charsets(crate::charsets::open);
        Self { inner }
    }
}

#[wasm_bindgen]
impl Job {
    /// Creates a job from a spec (`{ provider: "amazon-ads", ... }`), a
    /// config (`{}` for the defaults) and the provider's credentials. Nothing
    /// is sent until the first `poll`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "JobSpec")] spec: JsValue,
        #[wasm_bindgen(unchecked_param_type = "JobConfig | null | undefined")] config: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Credentials")] credentials: JsValue,
        now: f64,
    ) -> JsResult<Self> {
        let now = convert::millis(now)?;
        let spec: JobSpec = convert::from_js("spec", spec)?;
        let config = job_config(config)?;
        let credentials = convert::credentials_from_js(credentials)?;
        let inner =
            ReportJob::new(spec, config, credentials, now).map_err(|e| Failure::from_config(&e))?;
        Ok(Self::lending_charsets(inner))
    }

    /// Continues a job from `snapshot()` text with the host's config (the
    /// one the job was created with; `{}` for the defaults) and fresh
    /// credentials. The snapshot is untrusted: a snapshot whose endpoints
    /// differ from the config's is refused (`snapshot_mismatch`).
    pub fn restore(
        snapshot: &str,
        #[wasm_bindgen(unchecked_param_type = "JobConfig | null | undefined")] config: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Credentials")] credentials: JsValue,
        now: f64,
    ) -> JsResult<Self> {
        let now = convert::millis(now)?;
        let snapshot = Snapshot::from_json(snapshot).map_err(|e| Failure::from_restore(&e))?;
        let config = job_config(config)?;
        let credentials = convert::credentials_from_js(credentials)?;
        let inner = ReportJob::restore(snapshot, config, credentials, now)
            .map_err(|e| Failure::from_restore(&e))?;
        Ok(Self::lending_charsets(inner))
    }

    /// The next action. After any `handle*` call, poll until `wait`, `done`
    /// or `failed`.
    #[wasm_bindgen(unchecked_return_type = "Action")]
    pub fn poll(&mut self, now: f64) -> JsResult<JsValue> {
        let now = convert::millis(now)?;
        Ok(convert::action(self.inner.poll(now)))
    }

    /// Feeds the status and headers (`[name, value][]`) of the response to
    /// request `id`.
    #[wasm_bindgen(js_name = handleHead)]
    pub fn handle_head(
        &mut self,
        now: f64,
        id: f64,
        status: f64,
        #[wasm_bindgen(unchecked_param_type = "[string, string][]")] headers: JsValue,
    ) -> JsResult<()> {
        let now = convert::millis(now)?;
        let id = convert::request_id(id)?;
        let status = convert::status(status)?;
        let headers = convert::header_pairs(&headers)?;
        self.handle(
            now,
            Input::Head {
                id,
                status,
                headers: &headers,
            },
        )
    }

    /// Feeds the next piece of the response body, exactly as received.
    #[wasm_bindgen(js_name = handleChunk)]
    pub fn handle_chunk(&mut self, now: f64, id: f64, bytes: &[u8]) -> JsResult<()> {
        let now = convert::millis(now)?;
        let id = convert::request_id(id)?;
        self.handle(now, Input::Chunk { id, bytes })
    }

    /// The response body of request `id` is complete.
    #[wasm_bindgen(js_name = handleEnd)]
    pub fn handle_end(&mut self, now: f64, id: f64) -> JsResult<()> {
        let now = convert::millis(now)?;
        let id = convert::request_id(id)?;
        self.handle(now, Input::End { id })
    }

    /// Request `id` failed before its end (`"reset"`, `"timeout"`, …, or
    /// `{ other: "description" }`).
    #[wasm_bindgen(js_name = handleTransportFailure)]
    pub fn handle_transport_failure(
        &mut self,
        now: f64,
        id: f64,
        #[wasm_bindgen(unchecked_param_type = "TransportFailure")] failure: JsValue,
    ) -> JsResult<()> {
        let now = convert::millis(now)?;
        let id = convert::request_id(id)?;
        let failure: TransportFailure = convert::from_js("failure", failure).map_err(|e| {
            Failure::invalid_input(format!(
                "failure must be one of \"dns\", \"connect\", \"tls\", \"reset\", \"timeout\", \"aborted\", \
                 \"expired\" or {{ other: string }}: {}",
                e.message
            ))
        })?;
        self.handle(now, Input::TransportFailed { id, failure })
    }

    /// The host did not send request `id` and will not before `until`: a
    /// rate budget it shares between jobs has no room. The job forgets the
    /// request (no attempt spent, not counted) and asks again at `until`.
    #[wasm_bindgen(js_name = handleDeferred)]
    pub fn handle_deferred(&mut self, now: f64, id: f64, until: f64) -> JsResult<()> {
        let now = convert::millis(now)?;
        let id = convert::request_id(id)?;
        let until = convert::millis(until)?;
        self.handle(now, Input::Deferred { id, until })
    }

    /// The signature a `sign` action asked for: its raw bytes (e.g. the
    /// `ArrayBuffer` of WebCrypto's `sign({ name: "RSA-PSS", saltLength },
    /// key, message)`, as a `Uint8Array`), before the action's
    /// `signBefore`. A late or unknown id throws `stale_signature`.
    #[wasm_bindgen(js_name = handleSignature)]
    pub fn handle_signature(&mut self, now: f64, id: f64, signature: &[u8]) -> JsResult<()> {
        let now = convert::millis(now)?;
        let id = convert::request_id(id)?;
        self.handle(now, Input::Signature { id, signature })
    }

    /// Stops the job: it ends `failed` with code `cancelled`. Abort any
    /// request in flight.
    pub fn cancel(&mut self, now: f64) -> JsResult<()> {
        let now = convert::millis(now)?;
        self.handle(now, Input::Cancel)
    }

    /// Moves the job's deadline to `deadline` (ms since the epoch), e.g. to
    /// give a restored job more time; a job that failed only with
    /// `deadline_exceeded` continues when the new deadline lies ahead.
    #[wasm_bindgen(js_name = setDeadline)]
    pub fn set_deadline(&mut self, deadline: f64) -> JsResult<()> {
        let deadline = convert::millis(deadline)?;
        self.inner.set_deadline(deadline);
        Ok(())
    }

    /// The job as versioned, secret-free JSON text; `Job.restore` continues it.
    pub fn snapshot(&self) -> String {
        self.inner.snapshot_json()
    }

    /// The job's provider, e.g. `amazon-ads`.
    #[wasm_bindgen(getter, unchecked_return_type = "Provider")]
    pub fn provider(&self) -> String {
        self.inner.provider().as_str().to_owned()
    }

    /// The current phase, e.g. `polling`.
    #[wasm_bindgen(getter, unchecked_return_type = "Phase")]
    pub fn phase(&self) -> JsValue {
        convert::to_js(&self.inner.phase())
    }

    /// The provider's report id, once the report was created.
    #[wasm_bindgen(getter, js_name = reportId)]
    pub fn report_id(&self) -> Option<String> {
        self.inner.report_id().map(str::to_owned)
    }

    /// HTTP requests sent so far, all attempts included.
    #[wasm_bindgen(getter, js_name = requestsSent)]
    pub fn requests_sent(&self) -> u32 {
        self.inner.requests_sent()
    }

    /// Whether the job has ended (`done` or `failed`).
    #[wasm_bindgen(getter, js_name = isFinished)]
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl Job {
    fn handle(&mut self, now: reportflow::Millis, input: Input<'_>) -> JsResult<()> {
        self.inner
            .handle(now, input)
            .map_err(|e| Failure::from_input(&e).into())
    }
}
