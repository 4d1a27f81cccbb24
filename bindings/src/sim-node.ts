// Node entry of `reportflow/sim`: loads the simulator module next to the
// package synchronously. Importing it is what puts the simulators in memory;
// `reportflow` alone never loads them.

import { readFileSync } from "node:fs";
import { initSimSync } from "./sim.js";

initSimSync(readFileSync(new URL("../wasm/reportflow_sim_bg.wasm", import.meta.url)));

export * from "./sim.js";
