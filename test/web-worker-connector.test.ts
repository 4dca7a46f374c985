// @vbus/core/browser's worker connector, run under Node: a stand-in for the browser's Worker
// (a worker_threads Worker whose scope has the web's message events, test/fixtures/web-scope.ts)
// carries the same protocol, so the echo scenario, the accounting of signals and the handling of
// a guest that crashes are checked here without a browser (test/browser.test.ts runs the real one).
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, createVbus, type Bus } from '@vbus/core';
import { WebWorkerConnector } from '@vbus/core/browser';
import { echoModule, type EchoScenarioResult } from '@vbus/core/reference/echo';

const BOOT = new URL('../packages/core/src/node/ts-worker.mjs', import.meta.url);
const SCOPE = new URL('./fixtures/web-scope.ts', import.meta.url).href;
const GUEST = new URL('./fixtures/web-echo-guest.ts', import.meta.url);

/** The web's Worker, as far as the connector uses it, on top of worker_threads. */
class NodeWebWorker {
  private readonly worker: Worker;
  constructor(url: string | URL, _options?: { type?: string; name?: string }) {
    this.worker = new Worker(BOOT, { workerData: { __vbusEntry: SCOPE, webEntry: String(url) } });
  }
  postMessage(m: unknown, transfer?: unknown[]): void {
    this.worker.postMessage(m, transfer as never);
  }
  terminate(): void {
    void this.worker.terminate();
  }
  addEventListener(type: string, f: (e: { message?: string; data?: unknown }) => void): void {
    if (type === 'error') this.worker.on('error', (e: Error) => f({ message: e.message }));
    if (type === 'message') this.worker.on('message', (data) => f({ data }));
  }
}

function newBus(): Bus {
  const { vbus } = createVbus({ modules: [echoModule] });
  const bus = vbus.createBus('web');
  bus.createDevice('vbus-echo', 'echo0', { txCompleteEvery: 10 });
  return bus;
}

function firstMessage<T>(worker: unknown): Promise<T> {
  return new Promise((resolve) => (worker as NodeWebWorker).addEventListener('message', (e) => resolve(e.data as T)));
}

describe('WebWorkerConnector (the browser connector) over a stand-in Worker', () => {
  const g = globalThis as unknown as { Worker?: unknown };
  beforeEach(() => {
    g.Worker = NodeWebWorker;
  });
  afterEach(() => {
    delete g.Worker;
  });

  it('a stream of 60 bursts of 200 frames arrives intact, one kick per burst at most', async () => {
    const connector = new WebWorkerConnector(newBus());
    const guest = connector.spawn(GUEST, { name: 'web-echo', data: { device: 'echo0', burst: 200, bursts: 60, size: 128 } });
    const r = await firstMessage<EchoScenarioResult>(guest.worker);
    expect(r.received).toBe(12000);
    expect(r.intact).toBe(true);
    expect(r.kicks).toBeLessThanOrEqual(60);
    expect(r.txCompleteInterrupts).toBeLessThanOrEqual(60 * 20);
    guest.terminate();
    expect(await guest.exited).toMatch(/terminated/);
  });

  it('a guest that throws is gone: exited says why, its connection closes, the connector lets go of it', async () => {
    const bus = newBus();
    const connector = new WebWorkerConnector(bus);
    const exits: string[] = [];
    connector.on('guest-exit', (name, reason) => exits.push(`${name}: ${reason}`));
    const guest = connector.spawn(GUEST, { name: 'crasher', data: { device: 'echo0', burst: 1, bursts: 1, size: 64, crash: true } });
    await firstMessage(guest.worker);
    expect(guest.connections()).toBe(1);
    expect(guest.memoryBytes()).toBe(8 << 20);
    const reason = await guest.exited;
    expect(reason).toMatch(/guest worker crasher crashed: .*boom/);
    expect(exits).toEqual([`crasher: ${reason}`]);
    expect(guest.connections()).toBe(0);
    expect(guest.memoryBytes()).toBe(0);
    expect(connector.introspect().guests).toEqual([]);
    // the device is free for the next guest
    const next = connector.spawn(GUEST, { name: 'next', data: { device: 'echo0', burst: 10, bursts: 2, size: 64 } });
    expect((await firstMessage<EchoScenarioResult>(next.worker)).received).toBe(20);
    next.terminate();
    await next.exited;
  });

  it('without Web Workers spawn refuses with a ConfigError naming what is missing', () => {
    delete g.Worker;
    expect(() => new WebWorkerConnector(newBus()).spawn(GUEST)).toThrow(ConfigError);
    expect(() => new WebWorkerConnector(newBus()).spawn(GUEST)).toThrow(/Worker.*Web Workers/);
  });
});
