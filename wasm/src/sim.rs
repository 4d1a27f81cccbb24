//! The simulators, so JavaScript users can test offline too.

use serde::Deserialize;
use wasm_bindgen::prelude::*;

use reportflow::providers::Provider;
use reportflow::sim::{self, Fault, FaultPlan, SandboxConfig, SimRequest};
use reportflow::{
    Body, Credentials, Header, HttpRequest, Method, RedirectPolicy, RequestId, ResponseLimits,
};

use crate::convert::{self, Failure};

/// What `new Sandbox(options)` accepts; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
struct SandboxOptions {
    base_url: Option<String>,
    /// Origin of the download host (the report links), another origin
    /// than `base_url` as in production.
    download_base_url: Option<String>,
    seed: Option<u64>,
    /// The CLI's `--fault` text, e.g. `throttle:2,corrupt-body:always`.
    faults: Option<String>,
    generation_ms: Option<u64>,
    rows: Option<u32>,
}

/// A request as `Sandbox.handle` accepts it: the `request` of a `send`
/// action fits.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SimRequestJs {
    method: Method,
    url: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default, with = "serde_bytes_opt")]
    body: Option<Vec<u8>>,
}

/// Reads `Uint8Array | null | undefined` (serde-wasm-bindgen hands typed
/// arrays to `deserialize_bytes`).
mod serde_bytes_opt {
    use serde::de::{Deserializer, Error, SeqAccess, Visitor};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        struct Bytes;
        impl<'de> Visitor<'de> for Bytes {
            type Value = Option<Vec<u8>>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a Uint8Array, a byte array or null")
            }
            fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                d.deserialize_byte_buf(Self)
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(Some(v.to_vec()))
            }
            fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Some(v.as_bytes().to_vec()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(byte) = seq.next_element::<u8>()? {
                    out.push(byte);
                }
                Ok(Some(out))
            }
        }
        deserializer.deserialize_option(Bytes)
    }
}

fn provider(name: &str) -> Result<Provider, Failure> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| Failure::invalid_input(format!("`{name}` is not a provider reportflow knows")))
}

/// Every provider simulator (each under `/<provider>/…`; report links on a
/// separate download origin, as in production),
/// with a seeded fault plan and a secret-free request log: the same
/// simulators the Rust tests and `reportflow sim` use, in-process.
#[wasm_bindgen]
pub struct Sandbox {
    inner: sim::Sandbox,
}

#[wasm_bindgen]
impl Sandbox {
    /// `{ baseUrl?, seed?, faults?: "throttle,corrupt-body:always", generationMs?, rows? }`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "SandboxOptions | null | undefined")]
        options: JsValue,
    ) -> Result<Self, JsValue> {
        let options: SandboxOptions = if options.is_null() || options.is_undefined() {
            SandboxOptions::default()
        } else {
            convert::from_js("sandbox options", options)?
        };
        let mut config = SandboxConfig::default();
        if let Some(base_url) = options.base_url {
            config = config.with_base_url(base_url);
        }
        if let Some(download_base_url) = options.download_base_url {
            config = config.with_download_base_url(download_base_url);
        }
        if let Some(seed) = options.seed {
            config = config.with_seed(seed);
        }
        if let Some(faults) = options.faults {
            let plan: FaultPlan = faults
                .parse()
                .map_err(|e| Failure::invalid_config(format!("faults: {e}")))?;
            config = config.with_faults(plan);
        }
        if let Some(generation_ms) = options.generation_ms {
            config = config.with_generation_ms(generation_ms);
        }
        if let Some(rows) = options.rows {
            config = config.with_rows(rows);
        }
        Ok(Self {
            inner: sim::Sandbox::new(config),
        })
    }

    /// Answers one request at `now`. `request` is `{ method, url, headers,
    /// body }` (a `send` action's request fits). The answer's
    /// `disconnectAfter`, when not null, says the connection breaks off
    /// after that many body bytes.
    #[wasm_bindgen(unchecked_return_type = "SimResponse")]
    pub fn handle(
        &mut self,
        now: f64,
        #[wasm_bindgen(unchecked_param_type = "SimRequest")] request: JsValue,
    ) -> Result<JsValue, JsValue> {
        let now = convert::millis(now)?;
        let request: SimRequestJs = serde_wasm_bindgen::from_value(request).map_err(|e| {
            Failure::invalid_input(format!(
                "request must be {{ method, url, headers, body }}: {e}"
            ))
        })?;
        // Through HttpRequest so the origin is stripped exactly as the
        // sandbox's own hosts do it.
        let http = HttpRequest {
            id: RequestId::new(0),
            method: request.method,
            url: request.url,
            headers: request
                .headers
                .iter()
                .map(|(name, value)| Header::plain(name, value.as_str()))
                .collect(),
            body: request.body.map_or(Body::Empty, Body::Plain),
            limits: ResponseLimits {
                max_header_bytes: u64::MAX,
                max_body_bytes: u64::MAX,
            },
            timeout_ms: 0,
            send_before: None,
            redirect: RedirectPolicy::Follow,
            endpoint: "sim",
        };
        let response = self.inner.handle(now, &SimRequest::from_http(&http));
        let headers = js_sys::Array::new();
        for (name, value) in &response.headers {
            let pair = js_sys::Array::new();
            pair.push(&JsValue::from_str(name));
            pair.push(&JsValue::from_str(value));
            headers.push(&pair);
        }
        Ok(convert::object(&[
            ("status", JsValue::from(response.status)),
            ("headers", headers.into()),
            ("body", convert::bytes(&response.body)),
            (
                "disconnectAfter",
                response
                    .disconnect_after
                    .map_or(JsValue::NULL, |n| convert::number(n as u64)),
            ),
        ]))
    }

    /// Every request handled so far (no header values, no bodies).
    #[wasm_bindgen(unchecked_return_type = "LoggedRequest[]")]
    pub fn requests(&self) -> JsValue {
        convert::to_js(self.inner.requests())
    }

    /// The decoded bytes of a report the sandbox created: the ground truth a
    /// job's output must equal.
    #[wasm_bindgen(js_name = reportContent)]
    pub fn report_content(&self, report_id: &str) -> Option<Vec<u8>> {
        self.inner.report_content(report_id)
    }

    /// The origin plus the provider's prefix, e.g. `http://127.0.0.1:1234/amazon-ads`.
    #[wasm_bindgen(js_name = baseUrlFor)]
    pub fn base_url_for(&self, provider_name: &str) -> Result<String, JsValue> {
        Ok(self.inner.base_url_for(provider(provider_name)?))
    }

    /// A default job config whose API and auth origins point at this sandbox.
    #[wasm_bindgen(js_name = jobConfig, unchecked_return_type = "JobConfig")]
    pub fn job_config(&self, provider_name: &str) -> Result<JsValue, JsValue> {
        Ok(convert::to_js(
            &self.inner.job_config(provider(provider_name)?),
        ))
    }

    /// How many times a fault (by its CLI name, e.g. `corrupt-body`) fired.
    pub fn fired(&self, fault: &str) -> Result<u32, JsValue> {
        let fault: Fault = serde_json::from_value(serde_json::Value::String(fault.to_owned()))
            .map_err(|_| Failure::invalid_input(format!("`{fault}` is not a fault name")))?;
        Ok(self.inner.fired(fault))
    }
}

/// The providers whose simulator runs every generic host test (sample spec
/// and credentials, no signer needed, the common fault table). Amazon Pay
/// has a simulator, sample spec and credentials too, but its jobs need a
/// signer (`simSigner`) and its simulator acts on fewer faults.
#[wasm_bindgen(js_name = simProviders, unchecked_return_type = "Provider[]")]
pub fn sim_providers() -> JsValue {
    convert::to_js(&[
        Provider::AmazonAds.as_str(),
        Provider::Lingxing.as_str(),
        Provider::YandexMarket.as_str(),
        Provider::AmazonMws.as_str(),
        Provider::AmazonSpApi.as_str(),
        Provider::AmazonAdsV3.as_str(),
    ])
}

/// The simulated Amazon Pay merchant's RSA private key (PKCS#8 PEM): a test
/// fixture the simulator verifies signatures against, for a host's signer
/// (e.g. imported into WebCrypto). Useless anywhere else.
#[wasm_bindgen(js_name = simMerchantKeyPem)]
pub fn sim_merchant_key_pem() -> String {
    sim::keys::MERCHANT_PRIVATE_KEY_PEM.to_owned()
}

/// Credentials the provider's simulator accepts (fake, public values).
#[wasm_bindgen(js_name = simCredentials, unchecked_return_type = "Credentials")]
pub fn sim_credentials(provider_name: &str) -> Result<JsValue, JsValue> {
    let credentials = match provider(provider_name)? {
        Provider::AmazonAds => sim::amazon_ads::credentials(),
        Provider::Lingxing => sim::lingxing::credentials(),
        Provider::YandexMarket => sim::yandex_market::credentials(),
        Provider::AmazonMws => sim::amazon_mws::credentials(),
        Provider::AmazonPay => sim::amazon_pay::credentials(),
        Provider::AmazonSpApi => sim::amazon_sp_api::credentials(),
        Provider::AmazonAdsV3 => sim::amazon_ads_v3::credentials(),
        other => return Err(Failure::invalid_input(format!("no simulator for {other}")).into()),
    };
    credentials_to_js(&credentials)
}

/// A spec the provider's simulator serves, for a report day near `now`.
#[wasm_bindgen(js_name = simSampleSpec, unchecked_return_type = "JobSpec")]
pub fn sim_sample_spec(provider_name: &str, now: f64) -> Result<JsValue, JsValue> {
    let now = convert::millis(now)?;
    let spec = match provider(provider_name)? {
        Provider::AmazonAds => sim::amazon_ads::sample_spec(now),
        Provider::Lingxing => sim::lingxing::sample_spec(),
        Provider::YandexMarket => sim::yandex_market::sample_spec(now),
        Provider::AmazonMws => sim::amazon_mws::sample_spec(now),
        Provider::AmazonPay => sim::amazon_pay::sample_spec(now),
        Provider::AmazonSpApi => sim::amazon_sp_api::sample_spec(now),
        Provider::AmazonAdsV3 => sim::amazon_ads_v3::sample_spec(now),
        other => return Err(Failure::invalid_input(format!("no simulator for {other}")).into()),
    };
    Ok(convert::to_js(&spec))
}

/// The fault names `Sandbox` and `reportflow sim --fault` accept.
#[wasm_bindgen(js_name = simFaults, unchecked_return_type = "string[]")]
pub fn sim_faults() -> JsValue {
    let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
    convert::to_js(&names)
}

/// Login-with-Amazon credentials (Amazon Ads, SP-API) for `provider`.
fn lwa_to_js(provider: &str, c: &reportflow::providers::lwa::Credentials) -> JsValue {
    convert::object(&[
        ("provider", provider.into()),
        ("clientId", c.client_id.as_str().into()),
        ("clientSecret", c.client_secret.expose().as_str().into()),
        ("refreshToken", c.refresh_token.expose().as_str().into()),
        (
            "accessToken",
            c.access_token
                .as_ref()
                .map_or(JsValue::NULL, |t| t.expose().as_str().into()),
        ),
        (
            "accessTokenExpiresAt",
            c.access_token_expires_at
                .map_or(JsValue::NULL, |t| convert::number(t.as_u64())),
        ),
    ])
}

/// Simulator credentials are fake and public, so exposing them is harmless;
/// real credentials never travel this way (they come *from* JavaScript).
fn credentials_to_js(credentials: &Credentials) -> Result<JsValue, JsValue> {
    match credentials {
        Credentials::AmazonAds(c) => Ok(lwa_to_js("amazon-ads", c)),
        Credentials::AmazonSpApi(c) => Ok(lwa_to_js("amazon-sp-api", c)),
        Credentials::AmazonAdsV3(c) => Ok(lwa_to_js("amazon-ads-v3", c)),
        Credentials::Lingxing(c) => Ok(convert::object(&[
            ("provider", "lingxing".into()),
            ("appId", c.app_id.as_str().into()),
            ("appSecret", c.app_secret.expose().as_str().into()),
            (
                "accessToken",
                c.access_token
                    .as_ref()
                    .map_or(JsValue::NULL, |t| t.expose().as_str().into()),
            ),
            (
                "refreshToken",
                c.refresh_token
                    .as_ref()
                    .map_or(JsValue::NULL, |t| t.expose().as_str().into()),
            ),
            (
                "accessTokenExpiresAt",
                c.access_token_expires_at
                    .map_or(JsValue::NULL, |t| convert::number(t.as_u64())),
            ),
        ])),
        Credentials::YandexMarket(c) => Ok(convert::object(&[
            ("provider", "yandex-market".into()),
            (
                "apiKey",
                c.api_key
                    .as_ref()
                    .map_or(JsValue::NULL, |t| t.expose().as_str().into()),
            ),
            (
                "oauthToken",
                c.oauth_token
                    .as_ref()
                    .map_or(JsValue::NULL, |t| t.expose().as_str().into()),
            ),
        ])),
        Credentials::AmazonMws(c) => Ok(convert::object(&[
            ("provider", "amazon-mws".into()),
            ("accessKeyId", c.access_key_id.as_str().into()),
            ("secretKey", c.secret_key.expose().as_str().into()),
            ("sellerId", c.seller_id.as_str().into()),
            (
                "mwsAuthToken",
                c.mws_auth_token
                    .as_ref()
                    .map_or(JsValue::NULL, |t| t.expose().as_str().into()),
            ),
        ])),
        Credentials::AmazonPay(_) => Ok(convert::object(&[("provider", "amazon-pay".into())])),
        _ => Err(Failure::internal("no JavaScript form for these credentials yet").into()),
    }
}
