import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as L from './layout.js';
import { MockDriver } from '../../testing/index.js';

/**
 * Conformance against an independent implementation: the kernel's uapi header
 * <linux/virtio_ring.h> (Debian linux-libc-dev), compiled with gcc from test-c/vring_ref.c.
 */
const source = fileURLToPath(new URL('../../../test-c/vring_ref.c', import.meta.url));
let lines: string[] = [];

beforeAll(() => {
  expect(existsSync('/usr/include/linux/virtio_ring.h'), 'install linux-libc-dev (npm test installs it: scripts/test-deps.mjs)').toBe(true);
  const dir = mkdtempSync(join(tmpdir(), 'vring-ref-'));
  const exe = join(dir, 'vring_ref');
  execFileSync('gcc', ['-O1', '-Wall', '-Wextra', '-Werror', '-o', exe, source], { stdio: 'pipe' });
  lines = execFileSync(exe, { encoding: 'utf8', maxBuffer: 64 << 20 })
    .trim()
    .split('\n');
}, 60_000);

describe('conformance with linux/virtio_ring.h', () => {
  it('agrees on every constant and struct offset', () => {
    const expected: Record<string, number> = {
      VRING_DESC_F_NEXT: L.VIRTQ_DESC_F_NEXT,
      VRING_DESC_F_WRITE: L.VIRTQ_DESC_F_WRITE,
      VRING_DESC_F_INDIRECT: L.VIRTQ_DESC_F_INDIRECT,
      VRING_PACKED_DESC_F_AVAIL: L.VRING_PACKED_DESC_F_AVAIL_BIT,
      VRING_PACKED_DESC_F_USED: L.VRING_PACKED_DESC_F_USED_BIT,
      VRING_USED_F_NO_NOTIFY: L.VRING_USED_F_NO_NOTIFY,
      VRING_AVAIL_F_NO_INTERRUPT: L.VRING_AVAIL_F_NO_INTERRUPT,
      VRING_PACKED_EVENT_FLAG_ENABLE: L.VRING_PACKED_EVENT_FLAG_ENABLE,
      VRING_PACKED_EVENT_FLAG_DISABLE: L.VRING_PACKED_EVENT_FLAG_DISABLE,
      VRING_PACKED_EVENT_FLAG_DESC: L.VRING_PACKED_EVENT_FLAG_DESC,
      VRING_PACKED_EVENT_F_WRAP_CTR: L.VRING_PACKED_EVENT_F_WRAP_CTR,
      VIRTIO_RING_F_INDIRECT_DESC: L.VIRTIO_F_INDIRECT_DESC,
      VIRTIO_RING_F_EVENT_IDX: L.VIRTIO_F_EVENT_IDX,
      VRING_AVAIL_ALIGN_SIZE: L.VIRTQ_AVAIL_ALIGN,
      VRING_USED_ALIGN_SIZE: L.VIRTQ_USED_ALIGN,
      VRING_DESC_ALIGN_SIZE: L.VIRTQ_DESC_ALIGN,
      VIRTIO_F_VERSION_1: L.VIRTIO_F_VERSION_1,
      VIRTIO_F_ACCESS_PLATFORM: L.VIRTIO_F_ACCESS_PLATFORM,
      VIRTIO_F_RING_PACKED: L.VIRTIO_F_RING_PACKED,
      VIRTIO_F_IN_ORDER: L.VIRTIO_F_IN_ORDER,
      VIRTIO_CONFIG_S_ACKNOWLEDGE: L.VIRTIO_CONFIG_S_ACKNOWLEDGE,
      VIRTIO_CONFIG_S_DRIVER: L.VIRTIO_CONFIG_S_DRIVER,
      VIRTIO_CONFIG_S_DRIVER_OK: L.VIRTIO_CONFIG_S_DRIVER_OK,
      VIRTIO_CONFIG_S_FEATURES_OK: L.VIRTIO_CONFIG_S_FEATURES_OK,
      VIRTIO_CONFIG_S_NEEDS_RESET: L.VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET,
      VIRTIO_CONFIG_S_FAILED: L.VIRTIO_CONFIG_S_FAILED,
      'sizeof(vring_desc)': L.VIRTQ_DESC_SIZE,
      'vring_desc.addr': L.VIRTQ_DESC_ADDR,
      'vring_desc.len': L.VIRTQ_DESC_LEN,
      'vring_desc.flags': L.VIRTQ_DESC_FLAGS,
      'vring_desc.next': L.VIRTQ_DESC_NEXT,
      'vring_avail.flags': L.VIRTQ_AVAIL_FLAGS,
      'vring_avail.idx': L.VIRTQ_AVAIL_IDX,
      'vring_avail.ring': L.VIRTQ_AVAIL_RING,
      'vring_used.flags': L.VIRTQ_USED_FLAGS,
      'vring_used.idx': L.VIRTQ_USED_IDX,
      'vring_used.ring': L.VIRTQ_USED_RING,
      'sizeof(vring_used_elem)': L.VIRTQ_USED_ELEM_SIZE,
      'vring_used_elem.id': L.VIRTQ_USED_ELEM_ID,
      'vring_used_elem.len': L.VIRTQ_USED_ELEM_LEN,
      'sizeof(vring_packed_desc)': L.VIRTQ_DESC_SIZE,
      'vring_packed_desc.addr': L.VIRTQ_DESC_ADDR,
      'vring_packed_desc.len': L.VIRTQ_DESC_LEN,
      'vring_packed_desc.id': L.VIRTQ_PACKED_DESC_ID,
      'vring_packed_desc.flags': L.VIRTQ_PACKED_DESC_FLAGS,
      'sizeof(vring_packed_desc_event)': L.VRING_PACKED_EVENT_SIZE,
      'vring_packed_desc_event.off_wrap': L.VRING_PACKED_EVENT_OFF_WRAP,
      'vring_packed_desc_event.flags': L.VRING_PACKED_EVENT_FLAGS,
    };
    const got: Record<string, number> = {};
    for (const l of lines.filter((l) => l.startsWith('C '))) {
      const [, name, value] = l.split(' ');
      got[name!] = Number(value);
    }
    expect(got).toEqual(expected);
  });

  it('agrees with vring_init/vring_size for every power-of-two size and several aligns', () => {
    const rows = lines.filter((l) => l.startsWith('L '));
    expect(rows.length).toBe(16 * 6);
    for (const row of rows) {
      const [num, align, size, avail, used, usedEvent, availEvent] = row.slice(2).split(' ').map(Number) as number[];
      const t = L.legacySplitLayout(num!, align!);
      expect({ row, size: t.total, avail: t.avail, used: t.used, usedEvent: t.usedEvent, availEvent: t.availEvent }).toEqual({
        row,
        size,
        avail,
        used,
        usedEvent,
        availEvent,
      });
      // the modern sizes are the areas vring_init lays out back to back
      const s = L.splitRingSizes(num!);
      expect(t.avail).toBe(s.desc);
      expect(t.usedEvent + 2 - t.avail).toBe(s.avail);
      expect(t.availEvent + 2 - t.used).toBe(s.used);
    }
  });

  it('agrees with vring_need_event on every (event, new, old) triple', () => {
    const rows = lines.filter((l) => l.startsWith('E '));
    expect(rows.length).toBeGreaterThan(20_000);
    let mismatches = 0;
    for (const row of rows) {
      const [e, n, o, r] = row.slice(2).split(' ').map(Number) as number[];
      if (L.needEvent(e!, n!, o!) !== (r === 1)) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('places used_event and avail_event where the queues read and write them', () => {
    // drive real queues over a vring_init layout and look at the bytes at the C offsets
    for (const num of [1, 8, 256]) {
      const row = lines.find((l) => l.startsWith(`L ${num} 4096 `))!;
      const [, , , avail, used, usedEvent, availEvent] = row.slice(2).split(' ').map(Number) as number[];
      const m = new MockDriver({ kind: 'split', size: num, eventIdx: true });
      const split = m.split;
      expect(split.availRing + L.usedEventOffset(num) - split.availRing).toBe(usedEvent! - avail!);
      expect(split.usedRing + L.availEventOffset(num) - split.usedRing).toBe(availEvent! - used!);
      const dev = m.device();
      m.addBuffer([new Uint8Array([1])], [], 0);
      dev.popChain();
      dev.addUsed(0, 0);
      expect(m.peekU16(split.usedRing + (availEvent! - used!))).toBe(1);
      m.getUsed();
      expect(m.peekU16(split.availRing + (usedEvent! - avail!))).toBe(1);
    }
  });
});
