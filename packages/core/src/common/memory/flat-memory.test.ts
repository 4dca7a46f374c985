import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigError, MemoryAccessError } from '../errors.js';
import { FlatMemory } from './flat-memory.js';
import { RegionMemory } from './region-memory.js';
import { GuestAllocator } from './allocator.js';
import { createVbus } from '../bus/container.js';
import { InProcessConnector } from '../connector/in-process.js';
import { echoModule, runEchoScenario } from '../../reference/echo/index.js';

describe('FlatMemory', () => {
  it('guest physical address = RAM offset, also when the RAM sits inside a larger buffer', () => {
    const buf = new SharedArrayBuffer(4096);
    const ram = new FlatMemory(buf, 1024, 2048);
    ram.write(0, Uint8Array.of(1, 2, 3));
    ram.write(2045, Uint8Array.of(7, 8, 9));
    const raw = new Uint8Array(buf);
    expect([...raw.subarray(1024, 1027)]).toEqual([1, 2, 3]);
    expect([...raw.subarray(1024 + 2045, 1024 + 2048)]).toEqual([7, 8, 9]);
    expect(ram.regions()).toEqual([{ address: 0, length: 2048, buffer: buf, offset: 1024 }]);
    // int32 cells line up with the buffer for Atomics
    const cells = ram.int32(8, 2);
    Atomics.store(cells, 1, -1);
    expect([...raw.subarray(1024 + 12, 1024 + 16)]).toEqual([255, 255, 255, 255]);
  });

  it('refuses every access that leaves the RAM, naming the operation and address', () => {
    const ram = FlatMemory.create(256);
    expect(() => ram.view(250, 7)).toThrow(MemoryAccessError);
    expect(() => ram.read(256, 1)).toThrow(/read|view of 1 byte\(s\) at guest address 0x100: range is outside the 256-byte RAM/);
    expect(() => ram.write(255, Uint8Array.of(1, 2))).toThrow(/write of 2 byte\(s\) at guest address 0xff/);
    expect(() => ram.copyOut(-1, new Uint8Array(4), 0, 1)).toThrow(/non-negative integers/);
    expect(() => ram.copyIn(2 ** 53, new Uint8Array(4), 0, 1)).toThrow(MemoryAccessError);
    expect(() => ram.copyWithin(0, 200, 100)).toThrow(/copyWithin/);
    expect(() => ram.int32(2, 1)).toThrow(/4-byte aligned/);
    expect(() => ram.copyOut(0, new Uint8Array(4), 2, 4)).toThrow(RangeError);
    // the RAM is unchanged by refused writes
    expect(ram.read(0, 256).every((b) => b === 0)).toBe(true);
  });

  it('agrees with a RegionMemory of one region at 0 on every in-bounds and out-of-bounds access (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -4, max: 140 }), fc.integer({ min: 0, max: 140 }), fc.uint8Array({ minLength: 0, maxLength: 32 }), (addr, len, bytes) => {
        const flat = FlatMemory.create(128);
        const regions = new RegionMemory([{ address: 0, length: 128, buffer: new SharedArrayBuffer(128), offset: 0 }]);
        expect(flat.contains(addr, len)).toBe(regions.contains(addr, len));
        const outcome = (m: FlatMemory | RegionMemory) => {
          try {
            m.write(addr, bytes);
            return [...m.read(0, 128)];
          } catch (e) {
            return (e as Error).name;
          }
        };
        expect(outcome(flat)).toEqual(outcome(regions));
      }),
    );
  });

  it('is the guest memory of a device and its driver: the echo device moves 200 frames through rings in flat RAM', async () => {
    const { vbus } = createVbus({ modules: [echoModule] });
    const bus = vbus.createBus('b');
    bus.createDevice('vbus-echo', 'echo0', { txCompleteEvery: 8 });
    const ram = FlatMemory.create(8 << 20);
    const conn = new InProcessConnector(bus, ram).open('echo0');
    const r = await runEchoScenario(conn, new GuestAllocator(0x1000, (8 << 20) - 0x1000), { burst: 50, bursts: 4, size: 60 });
    expect(r).toMatchObject({ sent: 200, received: 200, intact: true });
  });

  it('refuses a bad offset or size with a ConfigError naming it', () => {
    expect(() => new FlatMemory(new SharedArrayBuffer(64), 4)).toThrow(ConfigError);
    expect(() => new FlatMemory(new SharedArrayBuffer(64), 4)).toThrow(/option offset/);
    expect(() => new FlatMemory(new SharedArrayBuffer(64), 8, 64)).toThrow(/option size/);
    expect(() => FlatMemory.create(0)).toThrow(/option size/);
  });
});
