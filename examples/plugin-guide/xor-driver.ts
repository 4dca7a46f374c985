// The plugin guide's driver (step 5). Quoted by docs/plugin-guide.md; run by guide.test.ts.
import { openDriverRing, type DriverRing, type GuestAllocator, type GuestConnection } from '@vbus/core';
import { XOR_CALL_SET_KEY, XOR_QUEUE_REQ, XOR_REFUSED } from './xor-abi.js';

// #region driver
export class XorDriver {
  /** Called with each buffer the device finished: its slot and the bytes it now holds. */
  onDone: (slot: number, bytes: Uint8Array) => void = () => {};
  private readonly buffers: number[] = [];

  private constructor(
    readonly conn: GuestConnection,
    readonly ring: DriverRing,
    allocator: GuestAllocator,
    readonly bufferSize: number,
  ) {
    for (let i = 0; i < ring.count; i++) this.buffers.push(allocator.alloc(bufferSize, 64));
    // completions come through the ring's poll: signal masked while it drains, then unmasked
    ring.onComplete = (slot, len) => {
      if (len === XOR_REFUSED) throw new Error(`${conn.device.name}: buffer ${slot} refused`);
      this.onDone(slot, conn.memory.read(this.buffers[slot]!, len));
    };
  }

  static async open(conn: GuestConnection, allocator: GuestAllocator, key: number): Promise<XorDriver> {
    await conn.call(XOR_CALL_SET_KEY, Uint8Array.of(key));
    // one call: lay out the IOQ, share it under XOR_QUEUE_REQ with its signal, wire the signal
    const ring = await openDriverRing(conn, { id: XOR_QUEUE_REQ, count: 32, allocator });
    return new XorDriver(conn, ring, allocator, 256);
  }

  /** Put `bytes` in buffer `slot` and hand it to the device; with `more`, the kick waits. */
  send(slot: number, bytes: Uint8Array, more = false): boolean {
    this.conn.memory.write(this.buffers[slot]!, bytes);
    return this.ring.post(this.buffers[slot]!, bytes.length, slot, more);
  }

  /** Kick once for everything sent with `more`. */
  flush(): void {
    this.ring.flush();
  }
}
// #endregion driver
