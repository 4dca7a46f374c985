/**
 * Test helpers of the socket backends: a peer that speaks QEMU's stream framing over a real
 * socket, written independently of the backend's deframer, a frame queue to await frames from,
 * the addresses the tests use, a cleanup runner, and a responder guest attached to a backend.
 */
import type { Socket } from 'node:net';
import type { NetBackend, NetBackendPort } from '../common/backend/net-backend.js';
import { GuestResponder } from '../common/responder/guest-responder.js';
import type { GuestResponderConfig } from '../common/responder/responder-config.js';
import { parseIpv4, parseMac } from '../common/packet/index.js';

/** The peer on the other end of the socket. */
export const peerMac = parseMac('02:00:00:00:00:01');
export const peerIp = parseIpv4('192.0.2.1');
/** The guest behind the backend (see {@link attachResponder}). */
export const guestMac = parseMac('02:00:00:00:00:02');
export const guestIp = parseIpv4('192.0.2.2');

/** Something to undo after a test. */
export type Cleanup = () => Promise<void> | void;

/**
 * Run and empty `cleanups`, last first. Test files register it with their runner's `afterEach`
 * (this module stays free of the test runner, so it type-checks and loads anywhere).
 */
export async function runCleanups(cleanups: Cleanup[]): Promise<void> {
  while (cleanups.length) await cleanups.pop()!();
}

/** A {@link GuestResponder} at {@link guestMac}, 192.0.2.2, attached to `backend` as the NIC `name` and transmitting into its port. */
export function attachResponder(backend: Pick<NetBackend, 'attach'>, name: string, config: Partial<GuestResponderConfig> = {}): { guest: GuestResponder; port: NetBackendPort } {
  const mac = config.mac ?? guestMac;
  const guest = new GuestResponder({ mac, ip: '192.0.2.2', ...config });
  // the port is given the responder's own MAC: the switch's port security drops any other source
  const port = backend.attach({ name, mac }, guest);
  guest.setTransmit((f) => port.deliver(f));
  return { guest, port };
}

/** Collects frames and lets a test await the next one that matches. */
export class FrameQueue {
  readonly frames: Uint8Array[] = [];
  private waiters: { pred: (f: Uint8Array) => boolean; resolve: (f: Uint8Array) => void }[] = [];

  push(frame: Uint8Array): void {
    const i = this.waiters.findIndex((w) => w.pred(frame));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w!.resolve(frame);
      return;
    }
    this.frames.push(frame);
  }

  next(pred: (f: Uint8Array) => boolean = () => true, timeoutMs = 5000): Promise<Uint8Array> {
    const i = this.frames.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no matching frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (f: Uint8Array): void => {
        clearTimeout(timer);
        resolve(f);
      };
      this.waiters.push({ pred, resolve: done });
    });
  }
}

/** A QEMU-like stream peer on a connected socket: 4-byte big-endian length, then the frame. */
export class StreamPeer extends FrameQueue {
  private buf = Buffer.alloc(0);
  readonly closed: Promise<void>;

  constructor(readonly socket: Socket) {
    super();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 4) {
        const len = this.buf.readUInt32BE(0);
        if (this.buf.length < 4 + len) break;
        this.push(new Uint8Array(this.buf.subarray(4, 4 + len)));
        this.buf = this.buf.subarray(4 + len);
      }
    });
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
  }

  /** Send one frame in one write. */
  send(frame: Uint8Array): void {
    const h = Buffer.alloc(4);
    h.writeUInt32BE(frame.length, 0);
    this.socket.write(Buffer.concat([h, frame]));
  }

  /** Send one frame one byte per write, waiting for the event loop between bytes. */
  async sendByteByByte(frame: Uint8Array): Promise<void> {
    const h = Buffer.alloc(4);
    h.writeUInt32BE(frame.length, 0);
    const all = Buffer.concat([h, frame]);
    for (let i = 0; i < all.length; i++) {
      this.socket.write(all.subarray(i, i + 1));
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}
