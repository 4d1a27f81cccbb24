// Browser (and default) entry of `reportflow/sim`: fetches the simulator
// module next to the package's dist/ and instantiates it before the module
// finishes loading.

import { initSim } from "./sim.js";

await initSim(new URL("../wasm/reportflow_sim_bg.wasm", import.meta.url));

export * from "./sim.js";
