import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeStreamFrame, QEMU_STREAM_MAX_FRAME, StreamDeframer } from './stream-framing.js';

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe('QEMU stream framing', () => {
  it('prefixes a 4-byte big-endian length', () => {
    expect([...encodeStreamFrame(new Uint8Array([9, 8, 7]))]).toEqual([0, 0, 0, 3, 9, 8, 7]);
    expect(QEMU_STREAM_MAX_FRAME).toBe(69632);
  });

  it('property: any split of a stream of frames yields the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 30 }),
        (frames, cuts) => {
          const wire = concat(frames.map(encodeStreamFrame));
          const got: Uint8Array[] = [];
          const d = new StreamDeframer((f) => got.push(f.slice()));
          let i = 0;
          let k = 0;
          while (i < wire.length) {
            const n = cuts[k++ % cuts.length]!;
            expect(d.push(wire.subarray(i, i + n))).toBeUndefined();
            i += n;
          }
          expect(got).toEqual(frames);
          expect(d.pending).toBe(0);
        },
      ),
    );
  });

  it('reassembles a frame fed one byte at a time and reports pending bytes', () => {
    const frame = Uint8Array.from({ length: 1500 }, (_, i) => i & 0xff);
    const wire = encodeStreamFrame(frame);
    const got: Uint8Array[] = [];
    const d = new StreamDeframer((f) => got.push(f.slice()));
    for (let i = 0; i < wire.length - 1; i++) d.push(wire.subarray(i, i + 1));
    expect(d.pending).toBe(wire.length - 1);
    d.push(wire.subarray(wire.length - 1));
    expect(got).toEqual([frame]);
    expect(d.pending).toBe(0);
  });

  it('reports a zero or oversize length and then ignores the stream', () => {
    const got: Uint8Array[] = [];
    const d = new StreamDeframer((f) => got.push(f));
    expect(d.push(new Uint8Array([0, 1, 0x10, 0x01]))).toBe(QEMU_STREAM_MAX_FRAME + 1);
    expect(d.push(encodeStreamFrame(new Uint8Array(20)))).toBeUndefined();
    expect(got.length).toBe(0);
    d.reset();
    expect(d.push(new Uint8Array([0, 0]))).toBeUndefined();
    expect(d.push(new Uint8Array([0, 0]))).toBe(0);
    const ok = new StreamDeframer((f) => got.push(f));
    expect(ok.push(concat([new Uint8Array([0, 1, 0x10, 0x00]), new Uint8Array(QEMU_STREAM_MAX_FRAME)]))).toBeUndefined();
    expect(got.length).toBe(1);
  });
});
