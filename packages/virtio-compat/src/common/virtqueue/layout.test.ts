import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as L from './layout.js';

describe('virtqueue layout constants (virtio 1.2 §2.7, §2.8; docs/architecture.md section 3.4)', () => {
  it('pins every value', () => {
    expect([L.VIRTQ_DESC_ADDR, L.VIRTQ_DESC_LEN, L.VIRTQ_DESC_FLAGS, L.VIRTQ_DESC_NEXT, L.VIRTQ_DESC_SIZE, L.VIRTQ_DESC_ALIGN]).toEqual([0, 8, 12, 14, 16, 16]);
    expect([L.VIRTQ_DESC_F_NEXT, L.VIRTQ_DESC_F_WRITE, L.VIRTQ_DESC_F_INDIRECT]).toEqual([1, 2, 4]);
    expect([L.VIRTQ_AVAIL_FLAGS, L.VIRTQ_AVAIL_IDX, L.VIRTQ_AVAIL_RING, L.VIRTQ_AVAIL_ELEM_SIZE, L.VIRTQ_AVAIL_OVERHEAD, L.VIRTQ_AVAIL_ALIGN]).toEqual([0, 2, 4, 2, 6, 2]);
    expect([
      L.VIRTQ_USED_FLAGS,
      L.VIRTQ_USED_IDX,
      L.VIRTQ_USED_RING,
      L.VIRTQ_USED_ELEM_ID,
      L.VIRTQ_USED_ELEM_LEN,
      L.VIRTQ_USED_ELEM_SIZE,
      L.VIRTQ_USED_OVERHEAD,
      L.VIRTQ_USED_ALIGN,
    ]).toEqual([0, 2, 4, 0, 4, 8, 6, 4]);
    expect([L.VRING_AVAIL_F_NO_INTERRUPT, L.VRING_USED_F_NO_NOTIFY, L.VIRTQ_MAX_SIZE]).toEqual([1, 1, 32768]);
    expect([L.VIRTQ_PACKED_DESC_ID, L.VIRTQ_PACKED_DESC_FLAGS, L.VIRTQ_PACKED_DESC_F_AVAIL, L.VIRTQ_PACKED_DESC_F_USED]).toEqual([12, 14, 1 << 7, 1 << 15]);
    expect([L.VRING_PACKED_EVENT_OFF_WRAP, L.VRING_PACKED_EVENT_FLAGS, L.VRING_PACKED_EVENT_SIZE, L.VRING_PACKED_EVENT_ALIGN, L.VRING_PACKED_EVENT_F_WRAP_CTR]).toEqual([
      0, 2, 4, 4, 15,
    ]);
    expect([L.VRING_PACKED_EVENT_FLAG_ENABLE, L.VRING_PACKED_EVENT_FLAG_DISABLE, L.VRING_PACKED_EVENT_FLAG_DESC]).toEqual([0, 1, 2]);
    expect([L.VIRTIO_F_INDIRECT_DESC, L.VIRTIO_F_EVENT_IDX, L.VIRTIO_F_VERSION_1, L.VIRTIO_F_ACCESS_PLATFORM, L.VIRTIO_F_RING_PACKED, L.VIRTIO_F_IN_ORDER]).toEqual([
      28, 29, 32, 33, 34, 35,
    ]);
    expect([
      L.VIRTIO_CONFIG_S_ACKNOWLEDGE,
      L.VIRTIO_CONFIG_S_DRIVER,
      L.VIRTIO_CONFIG_S_DRIVER_OK,
      L.VIRTIO_CONFIG_S_FEATURES_OK,
      L.VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET,
      L.VIRTIO_CONFIG_S_FAILED,
    ]).toEqual([1, 2, 4, 8, 64, 128]);
    expect(L.featureMask(L.VIRTIO_F_RING_PACKED)).toBe(1n << 34n);
    expect(L.hasFeature(L.featureMask(29) | L.featureMask(32), L.VIRTIO_F_EVENT_IDX)).toBe(true);
    expect(L.hasFeature(L.featureMask(32), L.VIRTIO_F_INDIRECT_DESC)).toBe(false);
  });

  it('computes split sizes for every size 1..32768 and accepts only powers of two', () => {
    let valid = 0;
    for (let n = 0; n <= 65536; n++) {
      const ok = L.isValidSplitSize(n);
      expect(ok).toBe(n >= 1 && n <= 32768 && (n & (n - 1)) === 0);
      if (!ok) continue;
      valid++;
      expect(L.splitRingSizes(n)).toEqual({ desc: 16 * n, avail: 6 + 2 * n, used: 6 + 8 * n });
      expect(L.usedEventOffset(n)).toBe(4 + 2 * n);
      expect(L.availEventOffset(n)).toBe(4 + 8 * n);
    }
    expect(valid).toBe(16);
    expect(L.isValidPackedSize(3)).toBe(true);
    expect(L.isValidPackedSize(32769)).toBe(false);
    expect(L.packedRingSizes(5)).toEqual({ desc: 80, driverEvent: 4, deviceEvent: 4 });
  });

  it('needEvent is the spec formula', () => {
    expect(L.needEvent(0, 1, 0)).toBe(true);
    expect(L.needEvent(0, 2, 1)).toBe(false);
    expect(L.needEvent(0xffff, 0, 0xffff)).toBe(true);
    expect(L.needEvent(5, 5, 5)).toBe(false);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (e, n, o) => {
        // notify iff the event index lies in [old, new) walking forward mod 2^16
        const dist = (n - o) & 0xffff;
        let inRange = false;
        for (let k = 0; k < Math.min(dist, 70000); k++) if (((o + k) & 0xffff) === e) inRange = true;
        return L.needEvent(e, n, o) === inRange;
      }),
      { numRuns: 300 },
    );
  });

  it("needEventMod (packed) equals Linux's wrap-adjusted vring_need_event", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32768 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            pos: fc.integer({ min: 0, max: n - 1 }),
            wrap: fc.integer({ min: 0, max: 1 }),
            added: fc.integer({ min: 0, max: n }),
            off: fc.integer({ min: 0, max: n - 1 }),
            ewrap: fc.integer({ min: 0, max: 1 }),
          }),
        ),
        ({ n, pos, wrap, added, off, ewrap }) => {
          // Linux virtqueue_kick_prepare_packed
          let event = off;
          if (ewrap !== wrap) event -= n;
          const linux = L.needEvent(event & 0xffff, pos, (pos - added) & 0xffff);
          const lin = (p: number, w: number) => (w ? p : p + n);
          return L.needEventMod(lin(off, ewrap), lin(pos, wrap), lin(pos, wrap) - added, 2 * n) === linux;
        },
      ),
      { numRuns: 2000 },
    );
  });
});
