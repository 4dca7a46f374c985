// Bootstrap of every worker the WorkerConnector spawns: imports the entry named in
// workerData.__vbusEntry. A JavaScript entry (what users of the published packages write) is
// imported directly. TypeScript needs a loader: tsx, a development dependency, is registered
// here when the entry ends in .ts, or when this bootstrap itself runs from the packages' src/
// (the repository's tests with the @vbus/source condition, where every @vbus import is .ts).
import { workerData } from 'node:worker_threads';

const entry = workerData?.__vbusEntry;
if (typeof entry !== 'string') throw new Error('ts-worker.mjs: workerData.__vbusEntry must name the module to run');
const fromSources = /\/src\/node\/ts-worker\.mjs$/.test(new URL(import.meta.url).pathname);
if (fromSources || /\.[mc]?ts$/.test(new URL(entry).pathname)) {
  let api;
  try {
    api = await import('tsx/esm/api');
  } catch (e) {
    throw new Error(`worker entry ${entry} runs TypeScript: install tsx (npm i -D tsx) to run it as is, or compile it and spawn the .js file`, { cause: e });
  }
  api.register();
}
await import(entry);
