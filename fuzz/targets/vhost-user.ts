/**
 * Target "vhost-user": a front end's message stream (the sequence QEMU sends to start a
 * virtio-net back end: features, protocol features, owner, memory table, each vring's num, base,
 * addresses, kick, call, enable) encoded to bytes with its fds, then corrupted: bytes of the stream
 * overwritten, fds added or dropped, messages inserted. The stream goes through the
 * MessageReader in the chunk sizes the socket side reads, and into a VhostUserSession over a
 * fake platform (fds are numbers, memfds are SharedArrayBuffers). Oracle: every error is a
 * VbusError (a VhostUserError for the front end's mistakes), nothing else escapes; once the
 * session is closed, every fd it was handed is closed exactly once; an uncorrupted stream starts
 * the device.
 */
import fc from 'fast-check';
import { MicrotaskScheduler, VbusError, silentLogger, standaloneDeviceContext } from '@vbus/core';
import { VirtioNetDeviceClass } from '@vbus/virtio-compat';
import { MessageReader, VhostUserRequest as R, VhostUserSession, encodeRequest, statePayload, u64Payload, type VhostPlatform } from '@vbus/vhost-user';
import { check, typed } from '../oracle.js';
import { target, type FuzzTarget, type Outcome } from '../target.js';

const USER_BASE = 0x7f00_0000_0000;
const RAM = 1 << 20;

export interface VhostCase {
  /** Queue size for both vrings. */
  num: number;
  /** Offer-masking: the front end acks EVENT_IDX. */
  eventIdx: boolean;
  corruptions: Array<
    | { kind: 'byte'; at: number; value: number }
    | { kind: 'fds'; message: number; delta: number }
    | { kind: 'insert'; message: number; request: number; payload: number[]; fds: number }
  >;
}

interface Msg {
  bytes: Uint8Array;
  fds: number;
}

function addr(index: number, desc: number, used: number, avail: number): Uint8Array {
  const b = new Uint8Array(40);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, index, true);
  dv.setBigUint64(8, BigInt(desc), true);
  dv.setBigUint64(16, BigInt(used), true);
  dv.setBigUint64(24, BigInt(avail), true);
  return b;
}

function memTable(): Uint8Array {
  const b = new Uint8Array(8 + 8 * 32);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 1, true);
  dv.setBigUint64(8, 0n, true); // guest address
  dv.setBigUint64(16, BigInt(RAM), true);
  dv.setBigUint64(24, BigInt(USER_BASE), true);
  dv.setBigUint64(32, 0n, true);
  return b;
}

/** The messages QEMU sends to start the device. */
function startSequence(c: VhostCase, features: bigint): Msg[] {
  const m = (request: number, payload?: Uint8Array, fds = 0): Msg => ({ bytes: encodeRequest(request, payload), fds });
  const acked = (features & ~(c.eventIdx ? 0n : 1n << 29n)) | (1n << 30n);
  const out = [
    m(R.GET_FEATURES),
    m(R.GET_PROTOCOL_FEATURES),
    m(R.SET_PROTOCOL_FEATURES, u64Payload(1n << 3n)),
    m(R.SET_OWNER),
    m(R.SET_FEATURES, u64Payload(acked)),
    m(R.SET_MEM_TABLE, memTable(), 1),
  ];
  for (const i of [0, 1]) {
    const base = USER_BASE + 0x10000 * (i + 1);
    out.push(m(R.SET_VRING_NUM, statePayload(i, c.num)), m(R.SET_VRING_BASE, statePayload(i, 0)), m(R.SET_VRING_ADDR, addr(i, base, base + 0x8000, base + 0x4000)));
    out.push(m(R.SET_VRING_KICK, u64Payload(i), 1), m(R.SET_VRING_CALL, u64Payload(i), 1), m(R.SET_VRING_ENABLE, statePayload(i, 1)));
  }
  return out;
}

/** A platform whose fds are numbers: memfds map to SharedArrayBuffers, eventfds count signals. */
class FakePlatform implements VhostPlatform {
  private next = 100;
  readonly open = new Set<number>();
  readonly closed: number[] = [];
  readonly kicks = new Map<number, (n: number) => void>();
  memfd(): number {
    const fd = this.next++;
    this.open.add(fd);
    return fd;
  }
  map(fd: number, length: number): SharedArrayBuffer {
    check(this.open.has(fd), `map of fd ${fd}, which is not open`);
    if (length > RAM) throw new Error(`fd ${fd} is ${RAM} bytes, shorter than ${length}`);
    return new SharedArrayBuffer(length);
  }
  close(fd: number): void {
    check(this.open.delete(fd), `fd ${fd} closed twice or never opened`);
    this.closed.push(fd);
  }
  watch(fd: number, onKick: (n: number) => void): () => void {
    check(this.open.has(fd), `watch of fd ${fd}, which is not open`);
    this.kicks.set(fd, onKick);
    return () => this.kicks.delete(fd);
  }
  signal(fd: number): void {
    check(this.open.has(fd), `signal on fd ${fd}, which is not open`);
  }
}

export const vhostUserTarget: FuzzTarget = target<VhostCase>({
  name: 'vhost-user',
  description: "a front end's start-up message stream with bytes, fds and messages corrupted",
  arbitrary: () =>
    fc.record({
      num: fc.constantFrom(1, 8, 256, 1024, 3, 0, 65536),
      eventIdx: fc.boolean(),
      corruptions: fc.array(
        fc.oneof(
          fc.record({ kind: fc.constant('byte' as const), at: fc.nat(700), value: fc.nat(255) }),
          fc.record({ kind: fc.constant('fds' as const), message: fc.nat(17), delta: fc.integer({ min: -1, max: 2 }) }),
          fc.record({
            kind: fc.constant('insert' as const),
            message: fc.nat(17),
            request: fc.integer({ min: 0, max: 42 }),
            payload: fc.array(fc.nat(255), { maxLength: 48 }),
            fds: fc.nat(2),
          }),
        ),
        { maxLength: 3 },
      ),
    }),
  async run(c): Promise<Outcome> {
    const cls = new VirtioNetDeviceClass();
    const device = cls.create(cls.validate({}), standaloneDeviceContext({ name: 'fuzz-vhost', scheduler: new MicrotaskScheduler(), logger: silentLogger, fail: () => {} }));
    const platform = new FakePlatform();
    const session = new VhostUserSession({ device, platform });
    const msgs = startSequence(c, session.offeredFeatures & ~(1n << 30n));
    for (const k of c.corruptions) {
      if (k.kind === 'fds') {
        const m = msgs[k.message % msgs.length]!;
        m.fds = Math.max(0, m.fds + k.delta);
      } else if (k.kind === 'insert') {
        msgs.splice(k.message % (msgs.length + 1), 0, { bytes: encodeRequest(k.request, Uint8Array.from(k.payload)), fds: k.fds });
      }
    }
    // the stream: fds travel with the first chunk of their message
    const stream: Array<{ bytes: Uint8Array; fds: number }> = [];
    let offset = 0;
    const total = msgs.reduce((s, m) => s + m.bytes.length, 0);
    const flat = new Uint8Array(total);
    const starts: number[] = [];
    for (const m of msgs) {
      starts.push(offset);
      flat.set(m.bytes, offset);
      offset += m.bytes.length;
    }
    for (const k of c.corruptions) if (k.kind === 'byte') flat[k.at % total] = k.value;
    msgs.forEach((m, i) => stream.push({ bytes: flat.subarray(starts[i]!, starts[i]! + m.bytes.length), fds: m.fds }));

    const reader = new MessageReader();
    const given: number[] = [];
    let outcome: Outcome = 'progress';
    try {
      // read as the socket side does: never more than wanted(), fds with the chunk they came with
      let pos = 0;
      let pendingFds: number[] = [];
      const fdsAt = new Map<number, number>(starts.map((s, i) => [s, msgs[i]!.fds]));
      while (pos < total) {
        const n = Math.min(reader.wanted(), total - pos);
        for (let p = pos; p < pos + n; p++) {
          const k = fdsAt.get(p);
          if (k) for (let j = 0; j < k; j++) pendingFds.push(platform.memfd());
        }
        given.push(...pendingFds);
        reader.push(flat.subarray(pos, pos + n), pendingFds);
        pendingFds = [];
        pos += n;
        const m = reader.next();
        if (m !== null) session.handle(m.header, m.message, m.fds);
      }
      for (const kick of [...platform.kicks.values()]) kick(1);
      if (c.corruptions.length === 0 && [1, 8, 256, 1024].includes(c.num)) check(session.running, `an uncorrupted start did not start the device: ${session.deviceError()}`);
    } catch (e) {
      typed(e, 'vhost-user session');
      outcome = e instanceof VbusError && e.code === 'vhost-user' ? 'refused' : 'failed';
    } finally {
      // the owner closes the session and the fds the reader still holds
      for (const fd of reader.pendingFds()) platform.close(fd);
      session.close();
    }
    for (const fd of given) check(!platform.open.has(fd), `fd ${fd} was handed to the back end and never closed`);
    return outcome;
  },
});
