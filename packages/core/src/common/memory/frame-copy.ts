import type { GuestMemory } from './guest-memory.js';

/** Alignment V8's shared-memory copy works in: both ends must agree modulo this for a word-wise copy. */
const WORD = 8;

/**
 * A device's private copy of a frame read out of guest memory (the copy that makes a hostile
 * guest's later rewrite harmless), placed in the host buffer at the same offset modulo 8 as its
 * guest address. V8 copies between a SharedArrayBuffer and another buffer word by word only when
 * both ends share their alignment, byte by byte otherwise: 1500 bytes take 67 ns co-aligned and
 * 432 ns four bytes apart on this project's test machines, so a frame at a guest address that is
 * 4 mod 8 (after virtio-net's 12-byte header) copied to offset 0 cost more than the rest of the
 * device's work. The copy is handed out as a view that is reused while frames keep their length
 * and alignment: no allocation per frame in a steady stream.
 */
export class FrameCopy {
  private buffer: Uint8Array;
  /**
   * The last view per alignment (index = offset modulo 8), with its offset and length kept as
   * plain numbers: a typed array's `byteOffset` and `buffer` getters cost about 17 ns each, as
   * much as the copy of a small frame.
   */
  private readonly views: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(WORD).fill(undefined);
  private readonly viewAt = new Float64Array(WORD).fill(-1);
  private readonly viewLength = new Float64Array(WORD).fill(-1);

  /** @param capacity largest frame expected (the buffer grows if a longer one comes) */
  constructor(capacity: number) {
    this.buffer = new Uint8Array(capacity + WORD);
  }

  /** The host buffer that {@link place} returns offsets into (replaced when it grows). */
  get bytes(): Uint8Array {
    return this.buffer;
  }

  /**
   * Where in {@link bytes} to copy `length` bytes that sit at guest `address`: the offset with
   * the same alignment as the address. Grows the buffer if needed.
   */
  place(address: number, length: number): number {
    // the low bits through ToUint32 (exact: 2^32 is a multiple of 8): `address % 8` on a guest
    // address, a double, compiled to a call to fmod, about 20 ns a frame
    const at = (address >>> 0) & (WORD - 1);
    if (at + length > this.buffer.length) {
      this.buffer = new Uint8Array(at + length + WORD);
      this.views.fill(undefined);
      this.viewAt.fill(-1);
    }
    return at;
  }

  /** The bytes `[at, at + length)` of the buffer as a view, the same object while `at` and `length` repeat. */
  view(at: number, length: number): Uint8Array {
    const i = at % WORD;
    let v = this.views[i];
    if (v === undefined || this.viewAt[i] !== at || this.viewLength[i] !== length) {
      this.views[i] = v = this.buffer.subarray(at, at + length);
      this.viewAt[i] = at;
      this.viewLength[i] = length;
    }
    return v;
  }

  /**
   * Copy `length` bytes at guest `address` (checked by `memory.copyOut`) and return them as a
   * view, valid until the next copy.
   */
  copyFrom(memory: GuestMemory, address: number, length: number): Uint8Array {
    const at = this.place(address, length);
    memory.copyOut(address, this.buffer, at, length);
    return this.view(at, length);
  }
}
