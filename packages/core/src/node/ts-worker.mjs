// Bootstrap for a worker whose entry is TypeScript: registers tsx's loader in the worker, then
// imports the entry named in workerData.__vbusEntry. Plain .js entries are imported directly.
import { workerData } from 'node:worker_threads';

const entry = workerData?.__vbusEntry;
if (typeof entry !== 'string') throw new Error('ts-worker.mjs: workerData.__vbusEntry must name the module to run');
if (/\.[mc]?ts$/.test(new URL(entry).pathname)) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(entry);
