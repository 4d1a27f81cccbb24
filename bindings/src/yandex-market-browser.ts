// Browser (and default) entry of `reportflow/yandex-market`: the facade over a module
// with yandex-market alone and no charset decoders (its reports are UTF-8). Import
// one entry per page: the entries share the facade, which loads one module.

import { init } from "./init.js";

await init(new URL("../wasm/reportflow_yandex_market_bg.wasm", import.meta.url));

export * from "./index.js";
