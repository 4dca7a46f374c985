import { ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LearningSwitch } from '@vbus/net';
import { VhostUserRequest as R, encodeRequest, statePayload, u64Payload, VHOST_USER_HDR_SIZE } from '../common/protocol.js';
import { native, POLL_READABLE } from './native.js';
import { VhostUserServer } from './server.js';

const n = native();

/** A front end on the server's socket: send a message, get the reply or the end of the connection. */
class FrontEnd {
  readonly fd: number;
  constructor(path: string) {
    this.fd = n.connect(path);
  }
  send(bytes: Uint8Array, fds: number[] = []): void {
    expect(n.sendmsg(this.fd, bytes, fds)).toBe(bytes.length);
  }
  /** The next reply's bytes, or 'closed' when the back end closed the connection. */
  async receive(): Promise<Uint8Array | 'closed'> {
    return new Promise((resolve) => {
      const id = n.poll(this.fd, POLL_READABLE, () => {
        const buf = new Uint8Array(256);
        const r = n.recvmsg(this.fd, buf);
        if (r.bytes < 0) return;
        n.pollStop(id);
        resolve(r.bytes === 0 ? 'closed' : buf.slice(0, r.bytes));
      });
    });
  }
  close(): void {
    n.close(this.fd);
  }
}

describe('vhost-user server: hostile front ends get a clear error and a closed connection', () => {
  let dir: string;
  let server: VhostUserServer;
  const logs: string[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vbus-vhost-srv-'));
    server = new VhostUserServer({ socket: join(dir, 'sock'), device: { backend: new LearningSwitch() }, log: (l) => logs.push(l) });
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers GET_FEATURES with VERSION_1, EVENT_IDX and PROTOCOL_FEATURES', async () => {
    const fe = new FrontEnd(join(dir, 'sock'));
    fe.send(encodeRequest(R.GET_FEATURES));
    const r = await fe.receive();
    expect(r).not.toBe('closed');
    const dv = new DataView((r as Uint8Array).buffer);
    expect(dv.getUint32(0, true)).toBe(R.GET_FEATURES);
    expect(dv.getUint32(4, true)).toBe(0x5); // version 1 | REPLY
    expect(dv.getUint32(8, true)).toBe(8);
    const features = dv.getBigUint64(VHOST_USER_HDR_SIZE, true);
    for (const bit of [29n, 30n, 32n]) expect(features & (1n << bit)).toBe(1n << bit);
    expect(features & (1n << 34n)).toBe(0n); // no packed rings over vhost-user
    fe.close();
  });

  const bad: Array<[string, () => { bytes: Uint8Array; fds?: number[] }, RegExp]> = [
    ['a header of version 2', () => ({ bytes: encodeRequest(R.GET_FEATURES, undefined, 0x2) }), /version 2 in flags 0x2; only version 1 exists/],
    ['a reply flag on a request', () => ({ bytes: encodeRequest(R.SET_OWNER, undefined, 0x5) }), /must not have the REPLY flag/],
    [
      'a payload size of 1 MB (refused before reading it)',
      () => {
        const b = encodeRequest(R.SET_FEATURES, u64Payload(0));
        new DataView(b.buffer).setUint32(8, 1 << 20, true);
        return { bytes: b.subarray(0, VHOST_USER_HDR_SIZE) };
      },
      /payload size 1048576 exceeds 4096/,
    ],
    ['SET_FEATURES with 4 payload bytes', () => ({ bytes: encodeRequest(R.SET_FEATURES, new Uint8Array(4)) }), /SET_FEATURES: payload must be 8 bytes, got 4/],
    ['SET_FEATURES with bits never offered', () => ({ bytes: encodeRequest(R.SET_FEATURES, u64Payload(1n << 63n)) }), /include bits not offered \(0x8000000000000000\)/],
    ['SET_VRING_NUM for queue 5', () => ({ bytes: encodeRequest(R.SET_VRING_NUM, statePayload(5, 256)) }), /queue index 5 is not in 0\.\.1/],
    ['SET_VRING_NUM of 300 (not a power of two)', () => ({ bytes: encodeRequest(R.SET_VRING_NUM, statePayload(0, 300)) }), /queue 0 size 300 must be a power of two in 1\.\.1024/],
    ['SET_VRING_KICK without its fd', () => ({ bytes: encodeRequest(R.SET_VRING_KICK, u64Payload(0)) }), /expects exactly one fd, but 0 fds came/],
    ['SET_VRING_CALL with reserved bits', () => ({ bytes: encodeRequest(R.SET_VRING_CALL, u64Payload(0x1000)) }), /reserved bits set in 0x1000/],
    [
      'SET_MEM_TABLE with 9 regions',
      () => {
        const p = new Uint8Array(8 + 9 * 32);
        new DataView(p.buffer).setUint32(0, 9, true);
        return { bytes: encodeRequest(R.SET_MEM_TABLE, p) };
      },
      /region count 9 is not in 1\.\.8/,
    ],
    [
      'SET_MEM_TABLE whose region is longer than its file',
      () => {
        const file = join(dir, 'short-ram');
        const fd = openSync(file, 'w+');
        ftruncateSync(fd, 4096);
        const p = new Uint8Array(8 + 32);
        const dv = new DataView(p.buffer);
        dv.setUint32(0, 1, true);
        dv.setBigUint64(16, 1n << 20n, true); // size 1 MiB
        dv.setBigUint64(24, 0x7f0000000000n, true);
        return { bytes: encodeRequest(R.SET_MEM_TABLE, p), fds: [fd] };
      },
      /region 0: cannot map fd: .*shorter than the 1048576 bytes to map/,
    ],
    ['an unknown request', () => ({ bytes: encodeRequest(99) }), /request 99: is not supported/],
  ];

  it.each(bad)('%s', async (_what, make, error) => {
    const before = server.errors.length;
    const fe = new FrontEnd(join(dir, 'sock'));
    const m = make();
    fe.send(m.bytes, m.fds);
    expect(await fe.receive()).toBe('closed');
    expect(server.errors.length).toBe(before + 1);
    expect(server.errors.at(-1)).toMatch(error);
    fe.close();
    // and the server goes on: the next front end is served
    const next = new FrontEnd(join(dir, 'sock'));
    next.send(encodeRequest(R.GET_PROTOCOL_FEATURES));
    expect(await next.receive()).not.toBe('closed');
    next.close();
    await new Promise((r) => setTimeout(r, 20));
  });

  it('serves one front end at a time: a second connection is closed while the first is served', async () => {
    const first = new FrontEnd(join(dir, 'sock'));
    first.send(encodeRequest(R.SET_OWNER));
    await new Promise((r) => setTimeout(r, 20));
    const second = new FrontEnd(join(dir, 'sock'));
    expect(await second.receive()).toBe('closed');
    expect(logs.at(-1)).toMatch(/already connected; refusing another/);
    first.send(encodeRequest(R.GET_FEATURES));
    expect(await first.receive()).not.toBe('closed');
    first.close();
    second.close();
  });
});
