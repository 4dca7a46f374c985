import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { DEFAULT_CONNECTOR_LIMITS } from '../connector/untrusted.js';
import { checkEmbedderMemory, memoryOfRegions, type EmbedderMemory } from './embedder-memory.js';
import { FlatMemory } from './flat-memory.js';
import { RegionMemory } from './region-memory.js';

const limits = DEFAULT_CONNECTOR_LIMITS;

/** The ConfigError `spec` is refused with. */
function refusal(spec: unknown, l = limits): ConfigError {
  try {
    checkEmbedderMemory(spec, l);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('checkEmbedderMemory', () => {
  const ram = new SharedArrayBuffer(1 << 16);

  it('accepts regions at the addresses the embedder chose, fills defaults, and defaults the allocator to the first region', () => {
    const m = checkEmbedderMemory(
      {
        regions: [
          { address: 0x8000_0000, buffer: ram, offset: 0x8000 },
          { address: 0x1000, buffer: ram, length: 0x1000 },
        ],
      },
      limits,
    );
    expect(m.regions).toEqual([
      { address: 0x8000_0000, buffer: ram, offset: 0x8000, length: 0x8000 },
      { address: 0x1000, buffer: ram, offset: 0, length: 0x1000 },
    ]);
    expect(m.allocator).toEqual({ address: 0x8000_0000, length: 0x8000 });
  });

  it.each<[string, EmbedderMemory | unknown, string, RegExp]>([
    ['not an object', 42, 'memory', /must be an object/],
    ['no regions', { regions: [] }, 'memory.regions', /non-empty array/],
    ['an ArrayBuffer', { regions: [{ address: 0, buffer: new ArrayBuffer(64) }] }, 'memory.regions[0].buffer', /must be a SharedArrayBuffer/],
    ['a typed array', { regions: [{ address: 0, buffer: new Uint8Array(ram) }] }, 'memory.regions[0].buffer', /must be a SharedArrayBuffer/],
    ['an unaligned address', { regions: [{ address: 0x1004, buffer: ram }] }, 'memory.regions[0].address', /multiple of 8/],
    ['an unaligned offset', { regions: [{ address: 0, buffer: ram, offset: 12 }] }, 'memory.regions[0].offset', /multiple of 8/],
    ['an offset past the buffer', { regions: [{ address: 0, buffer: ram, offset: 1 << 16 }] }, 'memory.regions[0].offset', /inside its 65536-byte buffer/],
    ['a length past the buffer', { regions: [{ address: 0, buffer: ram, offset: 8, length: 1 << 16 }] }, 'memory.regions[0].length', /runs past the end/],
    ['a zero length', { regions: [{ address: 0, buffer: ram, length: 0 }] }, 'memory.regions[0].length', /positive integer/],
    ['a negative address', { regions: [{ address: -8, buffer: ram }] }, 'memory.regions[0].address', /non-negative/],
    ['an end past 2^53', { regions: [{ address: 2 ** 53 - 8, buffer: ram }] }, 'memory.regions[0].address', /below 2\^53/],
    [
      'overlapping regions',
      {
        regions: [
          { address: 0x1000, buffer: ram, length: 0x1000 },
          { address: 0x1ff8, buffer: ram, offset: 0x2000, length: 16 },
        ],
      },
      'memory.regions[1].address',
      /\[0x1ff8, 0x2008\) overlaps memory.regions\[0\] \[0x1000, 0x2000\)/,
    ],
    [
      'an allocator outside every region',
      { regions: [{ address: 0x1000, buffer: ram, length: 0x1000 }], allocator: { address: 0x1800, length: 0x1000 } },
      'memory.allocator.address',
      /inside one region/,
    ],
    ['an allocator of no bytes', { regions: [{ address: 0, buffer: ram }], allocator: { address: 0, length: 0 } }, 'memory.allocator.length', /positive/],
  ])('refuses %s, naming the field', (_what, spec, option, rule) => {
    const e = refusal(spec);
    expect(e.option).toBe(option);
    expect(e.message).toMatch(rule);
  });

  it("refuses more regions or bytes than the connector's limits allow", () => {
    const small = { ...limits, regionsPerGuest: 2, memoryPerGuest: 0x3000 };
    const three = { regions: [0, 1, 2].map((i) => ({ address: i * 0x1000, buffer: ram, offset: i * 0x1000, length: 0x1000 })) };
    expect(refusal(three, small)).toMatchObject({ option: 'memory.regions' });
    expect(refusal(three, small).message).toMatch(/regionsPerGuest limit \(2\)/);
    const big = {
      regions: [
        { address: 0, buffer: ram, length: 0x2000 },
        { address: 0x2000, buffer: ram, offset: 0x2000, length: 0x2000 },
      ],
    };
    expect(refusal(big, small)).toMatchObject({ option: 'memory.regions[1].length' });
    expect(refusal(big, small).message).toMatch(/memoryPerGuest limit \(12288\)/);
  });

  it('gives a FlatMemory for one region at address 0, a RegionMemory otherwise', () => {
    expect(memoryOfRegions(checkEmbedderMemory({ regions: [{ address: 0, buffer: ram, offset: 64 }] }, limits).regions)).toBeInstanceOf(FlatMemory);
    expect(memoryOfRegions(checkEmbedderMemory({ regions: [{ address: 0x1000, buffer: ram }] }, limits).regions)).toBeInstanceOf(RegionMemory);
  });
});
