// Bootstrap of every worker the WorkerConnector spawns: imports the entry named in
// workerData.__vbusEntry. A JavaScript entry (what users of the published packages write) is
// imported directly. A TypeScript entry (the repository's own tests and benchmarks) needs a
// loader: tsx, a development dependency, is registered here when the entry ends in .ts.
import { workerData } from 'node:worker_threads';

const entry = workerData?.__vbusEntry;
if (typeof entry !== 'string') throw new Error('ts-worker.mjs: workerData.__vbusEntry must name the module to run');
if (/\.[mc]?ts$/.test(new URL(entry).pathname)) {
  let api;
  try {
    api = await import('tsx/esm/api');
  } catch (e) {
    throw new Error(`worker entry ${entry} is TypeScript: install tsx (npm i -D tsx) to run it as is, or compile it and spawn the .js file`, { cause: e });
  }
  api.register();
}
await import(entry);
