import { createVbus } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { echoModule, type EchoScenarioResult } from '@vbus/core/reference/echo';
import { table } from './table.js';

/** The worker entry is a sibling of this module: .ts when run from the sources, .js from dist/. */
const MODULE_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/**
 * The core demo: a guest in a worker thread streams frames through an IOQ to the echo device on
 * the bus (main thread), which sends each one back; prints frames moved and signals crossed
 * versus suppressed.
 */
export async function demoEcho(options: { frames: number; burst: number; size: number; txCompleteEvery: number }): Promise<EchoScenarioResult> {
  const { vbus } = createVbus({ modules: [echoModule] });
  const bus = vbus.createBus('demo');
  bus.createDevice('vbus-echo', 'echo0', { txCompleteEvery: options.txCompleteEvery });
  const connector = new WorkerConnector(bus);
  const bursts = Math.max(1, Math.round(options.frames / options.burst));
  let snapshot!: ReturnType<typeof bus.introspect>;
  const guest = connector.spawn(new URL(`./echo-guest${MODULE_EXT}`, import.meta.url), { workerData: { burst: options.burst, bursts, size: options.size } });
  const result = await new Promise<EchoScenarioResult & { ms: number }>((resolve, reject) => {
    guest.worker.once('message', (m) => {
      // read the counters while the guest's connection is still open (it closes as the worker exits)
      snapshot = bus.introspect();
      resolve(m);
    });
    guest.worker.once('error', reject);
  });
  await guest.exited;
  const dev = snapshot.devices[0]!;
  const conn = dev.connections[0];
  const hostTx = conn?.signals[1];
  const hostRx = conn?.signals[0];
  const frames = result.received;
  console.log(
    `echo device over the worker connector: ${frames.toLocaleString('en-US')} frames of ${options.size} bytes each way, bursts of ${options.burst}, in ${result.ms.toFixed(0)} ms (${((frames / result.ms) * 1000).toFixed(0)} frames/s round trip)`,
  );
  console.log(
    table([
      ['signal', 'direction', 'injected', 'suppressed', 'per frame'],
      ['kick (tx)', 'guest -> device', result.kicks, result.kicksSuppressed, result.kicks / frames],
      ['tx-complete', 'device -> guest', hostTx?.injected ?? 0, hostTx?.suppressed ?? 0, (hostTx?.injected ?? 0) / frames],
      ['rx', 'device -> guest', hostRx?.injected ?? 0, hostRx?.suppressed ?? 0, (hostRx?.injected ?? 0) / frames],
    ]),
  );
  console.log(`frames intact and in order: ${result.intact ? 'yes' : 'NO'}`);
  return result;
}
