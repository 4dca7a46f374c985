import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { native, POLL_READABLE } from './native.js';

const n = native();
const dir = mkdtempSync(join(tmpdir(), 'vbus-native-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file of `size` bytes standing in for a front end's memfd. */
function memFile(name: string, size: number): number {
  const fd = openSync(join(dir, name), 'w+');
  ftruncateSync(fd, size);
  return fd;
}

describe('native addon', () => {
  it('eventfd: counts writes, reads 0 when empty, and wakes a poll', async () => {
    const fd = n.eventfd();
    expect(n.eventfdRead(fd)).toBe(0);
    expect(n.eventfdPending(fd)).toBe(false);
    n.eventfdWrite(fd, 1);
    n.eventfdWrite(fd, 2);
    expect(n.eventfdPending(fd)).toBe(true);
    expect(n.eventfdPending(fd)).toBe(true); // looking does not consume
    expect(n.eventfdRead(fd)).toBe(3);
    expect(n.eventfdPending(fd)).toBe(false);
    const woke = new Promise<number>((resolve) => {
      const id = n.poll(fd, POLL_READABLE, () => {
        n.pollStop(id);
        resolve(n.eventfdRead(fd));
      });
    });
    n.eventfdWrite(fd, 5);
    expect(await woke).toBe(5);
    n.close(fd);
  });

  it('unix sockets carry bytes and fds (SCM_RIGHTS); the received fd is the same eventfd', async () => {
    const path = join(dir, 's1');
    const l = n.listen(path, 1);
    const c = n.connect(path);
    const s = await new Promise<number>((resolve) => {
      const id = n.poll(l, POLL_READABLE, () => {
        const fd = n.accept(l);
        if (fd >= 0) {
          n.pollStop(id);
          resolve(fd);
        }
      });
    });
    const ev = n.eventfd();
    expect(n.sendmsg(c, Uint8Array.of(1, 2, 3), [ev])).toBe(3);
    const buf = new Uint8Array(16);
    const r = n.recvmsg(s, buf);
    expect(r.bytes).toBe(3);
    expect(r.truncated).toBe(false);
    expect(r.fds).toHaveLength(1);
    expect([...buf.subarray(0, 3)]).toEqual([1, 2, 3]);
    n.eventfdWrite(r.fds[0]!, 7);
    expect(n.eventfdRead(ev)).toBe(7);
    expect(n.recvmsg(s, buf).bytes).toBe(-1); // nothing waiting
    n.close(c);
    expect(n.recvmsg(s, buf).bytes).toBe(0); // end of stream
    for (const fd of [r.fds[0]!, ev, s, l]) n.close(fd);
  });

  it('mmap: two mappings of one file share bytes, and Atomics work across a worker thread', async () => {
    const fd = memFile('m1', 1 << 16);
    const a = n.mmap(fd, 1 << 16);
    const b = n.mmap(fd, 1 << 16);
    closeSync(fd); // the mappings outlive the fd
    expect(a).toBeInstanceOf(SharedArrayBuffer);
    new Uint8Array(a)[100] = 42;
    expect(new Uint8Array(b)[100]).toBe(42);
    const cells = new Int32Array(b, 0, 4);
    const w = new Worker('const { workerData } = require("node:worker_threads"); const c = new Int32Array(workerData, 0, 4); Atomics.store(c, 1, 99); Atomics.notify(c, 1);', {
      eval: true,
      workerData: a,
    });
    await new Promise((r) => w.once('exit', r));
    expect(Atomics.load(cells, 1)).toBe(99);
  });

  it('checks its arguments and says which one was wrong', () => {
    expect(() => n.eventfdRead(-1)).toThrow(/eventfdRead: argument fd = -1 must be an integer/);
    expect(() => n.close(1.5)).toThrow(/close: argument fd/);
    expect(() => n.mmap('3' as unknown as number, 4096)).toThrow(/mmap: argument fd must be a number/);
    expect(() => n.mmap(0, 0)).toThrow(/mmap: argument length = 0/);
    expect(() => n.listen('x'.repeat(200), 1)).toThrow(/listen: socket path must be 1\.\.107 bytes, got 200/);
    expect(() => n.sendmsg(0, 'abc' as unknown as Uint8Array)).toThrow(/sendmsg: argument bytes must be a Uint8Array/);
    expect(() => n.sendmsg(0, new Uint8Array(1), [1.5])).toThrow(/sendmsg: fds\[0\] is not an fd/);
    expect(() => n.poll(0, 4, () => {})).toThrow(/poll: argument events = 4/);
    expect(() => n.tapSetOffload(0, 1 << 10)).toThrow(/tapSetOffload: argument flags/);
    expect(() => n.tapOpen('x'.repeat(16), true)).toThrow(/tapOpen: interface name must be at most 15 bytes/);
  });

  it('refuses to map past the end of a file (that would be SIGBUS on access) and non-files', () => {
    const fd = memFile('m2', 4096);
    expect(() => n.mmap(fd, 8192)).toThrow(/mmap: fd \d+ is 4096 bytes, shorter than the 8192 bytes to map/);
    closeSync(fd);
    const ev = n.eventfd();
    expect(() => n.mmap(ev, 4096)).toThrow(/is not a regular file or memfd/);
    expect(() => n.eventfdRead(123456)).toThrow(/EBADF/);
    n.close(ev);
  });

  it('refuses to poll one fd twice', () => {
    const ev = n.eventfd();
    const id = n.poll(ev, POLL_READABLE, () => {});
    expect(() => n.poll(ev, POLL_READABLE, () => {})).toThrow(/already polled/);
    expect(n.pollStop(id)).toBe(true);
    expect(n.pollStop(id)).toBe(false);
    n.close(ev);
  });
});
