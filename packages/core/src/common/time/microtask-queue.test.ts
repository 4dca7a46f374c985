import { afterEach, describe, expect, it, vi } from 'vitest';
import { MicrotaskQueue } from './microtask-queue.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('MicrotaskQueue', () => {
  afterEach(() => vi.restoreAllMocks());

  it('runs tasks in exactly the order queueMicrotask would, interleaved with promise jobs and other microtasks', async () => {
    // the same program twice: once with queueMicrotask for the tasks, once with the queue
    const program = async (enqueue: (fn: () => void) => void): Promise<string[]> => {
      const log: string[] = [];
      enqueue(() => {
        log.push('a');
        void Promise.resolve().then(() => log.push('a.then'));
        enqueue(() => log.push('a.child'));
        queueMicrotask(() => log.push('a.native'));
      });
      void Promise.resolve().then(() => {
        log.push('p');
        enqueue(() => log.push('p.child'));
      });
      enqueue(() => {
        log.push('b');
        enqueue(() => {
          log.push('b.child');
          void Promise.resolve().then(() => log.push('b.child.then'));
        });
      });
      queueMicrotask(() => log.push('native'));
      await settle();
      return log;
    };
    const q = new MicrotaskQueue();
    const expected = await program((fn) => queueMicrotask(fn));
    expect(await program((fn) => q.enqueue(fn))).toEqual(expected);
    expect(expected).toHaveLength(10);
    expect(q.pending).toBe(0);
  });

  it('keeps the order past its initial capacity (it grows), and nothing runs synchronously', async () => {
    const q = new MicrotaskQueue();
    const log: number[] = [];
    for (let i = 0; i < 300; i++) q.enqueue(() => log.push(i));
    expect(log).toEqual([]);
    expect(q.pending).toBe(300);
    await settle();
    expect(log).toEqual(Array.from({ length: 300 }, (_, i) => i));
    // wrapped around a few times at a steady depth
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 50; i++) q.enqueue(() => log.push(1000 + round * 50 + i));
      await settle();
    }
    expect(log.slice(300)).toEqual(Array.from({ length: 250 }, (_, i) => 1000 + i));
  });

  it('a task that throws is reported as an uncaught exception (rethrown from a microtask), and the tasks after it still run', async () => {
    const rethrows: Array<() => void> = [];
    const native = globalThis.queueMicrotask;
    // capture the rethrow instead of letting it reach the test runner
    vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((fn) => void rethrows.push(fn));
    const q = new MicrotaskQueue();
    const log: string[] = [];
    const boom = new Error('boom');
    let rejected = false;
    const onRejection = () => (rejected = true);
    process.on('unhandledRejection', onRejection);
    try {
      q.enqueue(() => log.push('before'));
      q.enqueue(() => {
        throw boom;
      });
      q.enqueue(() => log.push('after'));
      await new Promise<void>((resolve) => native(() => native(resolve)));
      await settle();
    } finally {
      process.off('unhandledRejection', onRejection);
    }
    expect(log).toEqual(['before', 'after']);
    expect(rethrows).toHaveLength(1);
    expect(() => rethrows[0]!()).toThrow(boom);
    expect(rejected).toBe(false);
  });
});
