import { ContainerModule } from 'inversify';
import {
  BusError,
  ConfigError,
  DeviceClass,
  IoqDeviceQueue,
  le,
  type Device,
  type DeviceConnectionHandler,
  type DeviceContext,
  type GuestMemory,
  type ShmRegistration,
} from '@vbus/core';
import {
  BLOCK_CALL_GET_INFO,
  BLOCK_COMPLETE_BAD_HEADER,
  BLOCK_F_DISCARD,
  BLOCK_F_FLUSH,
  BLOCK_F_READ_ONLY,
  BLOCK_INFO_CAPACITY,
  BLOCK_INFO_FLAGS,
  BLOCK_INFO_MAX_SECTORS,
  BLOCK_INFO_QUEUE_MAX,
  BLOCK_INFO_SECTOR_SIZE,
  BLOCK_INFO_SIZE,
  BLOCK_QUEUE_REQ,
  BLOCK_REQ_COUNT,
  BLOCK_REQ_DATA,
  BLOCK_REQ_FLAGS,
  BLOCK_REQ_SECTOR,
  BLOCK_REQ_SIZE,
  BLOCK_REQ_STATUS,
  BLOCK_REQ_TYPE,
  BLOCK_S_INVALID,
  BLOCK_S_IOERR,
  BLOCK_S_OK,
  BLOCK_S_UNSUPP,
  BLOCK_SECTOR_SIZE,
  BLOCK_T_DISCARD,
  BLOCK_T_FLUSH,
  BLOCK_T_READ,
  BLOCK_T_WRITE,
  BLOCK_TYPE,
  BLOCK_VERSION,
} from './block-abi.js';
import type { BlockBackend } from './backend.js';

/** Configuration of a block device. */
export interface BlockConfig {
  /** Where the sectors live. The embedder owns it (the device never closes it). */
  readonly backend: BlockBackend;
  /** Refuse writes and discards (status IOERR). Default false. */
  readonly readOnly: boolean;
  /** Most sectors one read or write may move. Default 256 (128 KiB). */
  readonly maxSectors: number;
  /** Signal completions every N requests, and when the queue drains (venet's tx-complete mitigation). Default 16. */
  readonly completeEvery: number;
  /** Largest request ring accepted, in descriptors. Default 1024. */
  readonly queueMax: number;
}

/** Counters of one connection (summed per device in introspection). */
export interface BlockCounters {
  /** Requests completed, whatever their status. */
  requests: number;
  reads: number;
  writes: number;
  flushes: number;
  discards: number;
  bytesRead: number;
  bytesWritten: number;
  /** Requests refused (INVALID, UNSUPP, or a header that could not be read). */
  refused: number;
  /** Requests the backend failed, or writes to a read-only device. */
  ioErrors: number;
  /** Kicks from the driver that ran the handler. */
  kicks: number;
  /** Completion signals that crossed to the driver. */
  interrupts: number;
  /** Completion signals not sent: the driver was polling or one was pending. */
  suppressed: number;
  /** Largest number of requests taken in one pass (requests batched per kick). */
  maxBatch: number;
}

function intIn(name: string, value: unknown, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(name, v, `must be an integer in [${min}, ${max}]`);
  return v;
}

/** The vbus-block device class: a paravirtual disk on one IOQ request ring. */
export class BlockDeviceClass implements DeviceClass<BlockConfig> {
  readonly type = BLOCK_TYPE;
  readonly version = BLOCK_VERSION;
  readonly description = 'paravirtual block device: read, write, flush, discard on an IOQ request ring';
  readonly configKeys = ['backend', 'readOnly', 'maxSectors', 'completeEvery', 'queueMax'] as const;

  validate(config: unknown): BlockConfig {
    const c = (config ?? {}) as Partial<Record<keyof BlockConfig, unknown>>;
    const backend = c.backend as BlockBackend | undefined;
    if (!backend || typeof backend.read !== 'function' || !Number.isSafeInteger(backend.sectors) || backend.sectors < 1)
      throw new ConfigError('backend', backend, 'must be a BlockBackend with at least one sector');
    if (c.readOnly !== undefined && typeof c.readOnly !== 'boolean') throw new ConfigError('readOnly', c.readOnly, 'must be a boolean');
    return {
      backend,
      readOnly: c.readOnly ?? false,
      maxSectors: intIn('maxSectors', c.maxSectors, 256, 1, 1 << 16),
      completeEvery: intIn('completeEvery', c.completeEvery, 16, 1, 4096),
      queueMax: intIn('queueMax', c.queueMax, 1024, 1, 65536),
    };
  }

  create(config: BlockConfig, context: DeviceContext): BlockDevice {
    return new BlockDevice(config, context);
  }
}

/** A block device on a bus. Each connection gets its own request queue on the shared backend. */
export class BlockDevice implements Device {
  readonly type = BLOCK_TYPE;
  private readonly conns = new Set<BlockConnection>();
  /** The last request refused or failed, on any connection (empty if none). */
  lastError = '';

  constructor(
    readonly config: BlockConfig,
    private readonly context: DeviceContext,
  ) {}

  /** Counters of connections that closed: the device's totals outlive its connections. */
  private readonly retired: Record<string, number> = {};

  open(connection: { readonly id: number; readonly memory: GuestMemory }): DeviceConnectionHandler {
    const c = new BlockConnection(this, this.context, connection.memory, () => {
      this.conns.delete(c);
      add(this.retired, c.stats);
    });
    this.conns.add(c);
    return c;
  }

  attributes() {
    return {
      backend: this.config.backend.description,
      sectors: this.config.backend.sectors,
      readOnly: this.config.readOnly,
      maxSectors: this.config.maxSectors,
      completeEvery: this.config.completeEvery,
      lastError: this.lastError,
    };
  }

  /** Totals over every connection this device has had (open and closed). */
  counters(): Record<string, number> {
    const total = { ...this.retired };
    for (const c of this.conns) add(total, c.stats);
    return total;
  }
}

/** Sum `stats` into `total` (maxBatch: the largest). */
function add(total: Record<string, number>, stats: BlockCounters): void {
  for (const [k, v] of Object.entries(stats)) total[k] = k === 'maxBatch' ? Math.max(total[k] ?? 0, v) : (total[k] ?? 0) + v;
}

/** Why a request was refused: its status and the message the device records. */
class Refusal {
  constructor(
    readonly status: number,
    readonly message: string,
  ) {}
}

class BlockConnection implements DeviceConnectionHandler {
  readonly stats: BlockCounters = {
    requests: 0,
    reads: 0,
    writes: 0,
    flushes: 0,
    discards: 0,
    bytesRead: 0,
    bytesWritten: 0,
    refused: 0,
    ioErrors: 0,
    kicks: 0,
    interrupts: 0,
    suppressed: 0,
    maxBatch: 0,
  };
  private queue: IoqDeviceQueue | null = null;
  private reg: ShmRegistration | null = null;
  /** The request header, copied out of guest memory once and checked here. */
  private readonly header = new Uint8Array(BLOCK_REQ_SIZE);
  private readonly statusWord = new Uint8Array(4);
  private continuing = false;
  private closed = false;
  private readonly passFn = (): void => {
    this.continuing = false;
    if (!this.closed) this.pass();
  };

  constructor(
    private readonly device: BlockDevice,
    private readonly context: DeviceContext,
    private readonly memory: GuestMemory,
    private readonly onClose: () => void,
  ) {}

  counters(): Record<string, number> {
    return { ...this.stats };
  }

  call(func: number, _data: Uint8Array): Uint8Array {
    if (func !== BLOCK_CALL_GET_INFO) throw new BusError(`${this.context.name}: unknown call ${func}`);
    const c = this.device.config;
    const out = new Uint8Array(BLOCK_INFO_SIZE);
    le.setU64(out, BLOCK_INFO_CAPACITY, c.backend.sectors);
    le.setU32(out, BLOCK_INFO_SECTOR_SIZE, BLOCK_SECTOR_SIZE);
    le.setU32(out, BLOCK_INFO_MAX_SECTORS, c.maxSectors);
    le.setU32(out, BLOCK_INFO_FLAGS, (c.readOnly ? BLOCK_F_READ_ONLY : 0) | BLOCK_F_FLUSH | BLOCK_F_DISCARD);
    le.setU32(out, BLOCK_INFO_QUEUE_MAX, c.queueMax);
    return out;
  }

  shm(reg: ShmRegistration): void {
    const name = this.context.name;
    if (reg.id !== BLOCK_QUEUE_REQ) throw new BusError(`${name}: shm id ${reg.id} is not the request queue (${BLOCK_QUEUE_REQ})`);
    if (this.queue !== null) throw new BusError(`${name}.req: the request queue is already registered on this connection`);
    if (!reg.signal) throw new BusError(`${name}.req: the request queue needs a signal`);
    // the ring's header is checked here (magic, version, count, length); a bad one refuses the shm
    this.queue = new IoqDeviceQueue(reg.memory, reg.address, reg.length, reg.signal, `${name}.req`, this.device.config.queueMax);
    this.reg = reg;
    const signal = reg.signal;
    signal.handler = () => {
      this.stats.kicks++;
      if (this.continuing) return;
      signal.disable();
      this.pass();
    };
  }

  close(): void {
    this.closed = true;
    this.onClose();
  }

  /**
   * Take at most one ring's worth of requests with the kick masked, completing each in order and
   * signalling every `completeEvery` and on drain. If more are waiting, finish in a deferred pass
   * so a guest that refills as fast as we drain cannot hold the thread. A broken ring rule
   * (RingError from the queue) propagates: the bus fails the device, as for any ring.
   */
  private pass(): void {
    const q = this.queue!;
    const signal = this.reg!.signal!;
    const every = this.device.config.completeEvery;
    let done = 0;
    let since = 0;
    while (done < q.ioq.count && q.next()) {
      done++;
      // kept back (more = true): notify() below publishes the batch before it signals
      q.complete(this.execute(q.ptr, q.len, q.cookie), true);
      this.stats.requests++;
      if (++since >= every) {
        this.notify(q);
        since = 0;
      }
    }
    if (since > 0) this.notify(q);
    if (done > this.stats.maxBatch) this.stats.maxBatch = done;
    if (done === q.ioq.count && q.next()) {
      this.continuing = true;
      this.context.defer(this.passFn);
      return;
    }
    signal.enable();
  }

  private notify(q: IoqDeviceQueue): void {
    if (q.notify()) this.stats.interrupts++;
    else this.stats.suppressed++;
  }

  /** Run one request; returns the completion length (data bytes moved, or BAD_HEADER). */
  private execute(ptr: number, len: number, cookie: number): number {
    const mem = this.memory;
    this.curPtr = ptr;
    this.curCookie = cookie;
    if (len !== BLOCK_REQ_SIZE) return this.badHeader(`${this.at()}: descriptor len ${len} is not the ${BLOCK_REQ_SIZE}-byte request header`);
    if (!mem.contains(ptr, BLOCK_REQ_SIZE)) return this.badHeader(`${this.at()}: the header lies outside guest memory`);
    // one copy: the guest cannot change a field between its check and its use
    const h = this.header;
    mem.copyOut(ptr, h, 0, BLOCK_REQ_SIZE);
    const type = le.getU32(h, BLOCK_REQ_TYPE);
    let status: number;
    let moved = 0;
    try {
      moved = this.run(ptr, type, le.getU32(h, BLOCK_REQ_FLAGS), le.getU64(h, BLOCK_REQ_SECTOR), le.getU32(h, BLOCK_REQ_COUNT), le.getU64(h, BLOCK_REQ_DATA));
      status = BLOCK_S_OK;
    } catch (e) {
      if (e instanceof Refusal) {
        status = e.status;
        this.device.lastError = e.message;
        if (status === BLOCK_S_IOERR) this.stats.ioErrors++;
        else this.stats.refused++;
      } else {
        // the backend failed (a real I/O error): that request fails, the device goes on
        status = BLOCK_S_IOERR;
        this.stats.ioErrors++;
        this.device.lastError = `${this.at()}: backend: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    le.setU32(this.statusWord, 0, status);
    mem.copyIn(ptr + BLOCK_REQ_STATUS, this.statusWord, 0, 4);
    return moved;
  }

  /** The request being run, for error messages (built only when one is refused). */
  private curPtr = 0;
  private curCookie = 0;
  private at(): string {
    return `${this.context.name}.req: request 0x${this.curPtr.toString(16)} (cookie ${this.curCookie})`;
  }

  private badHeader(message: string): number {
    this.stats.refused++;
    this.device.lastError = message;
    return BLOCK_COMPLETE_BAD_HEADER;
  }

  /** Check a request's fields (already copied out) and do it; throws a Refusal for a bad one. */
  private run(ptr: number, type: number, flags: number, sector: number, count: number, data: number): number {
    const c = this.device.config;
    const capacity = c.backend.sectors;
    if (flags !== 0) throw new Refusal(BLOCK_S_INVALID, `${this.at()}: flags 0x${flags.toString(16)} are not defined (must be 0)`);
    switch (type) {
      case BLOCK_T_READ:
      case BLOCK_T_WRITE: {
        const what = type === BLOCK_T_READ ? 'read' : 'write';
        if (count < 1 || count > c.maxSectors) throw new Refusal(BLOCK_S_INVALID, `${this.at()}: ${what} of ${count} sectors is not in [1, ${c.maxSectors}]`);
        this.checkRange(sector, count, capacity);
        const bytes = count * BLOCK_SECTOR_SIZE;
        if (!this.memory.contains(data, bytes)) throw new Refusal(BLOCK_S_INVALID, `${this.at()}: data buffer [0x${data.toString(16)}, +${bytes}) lies outside guest memory`);
        this.checkOverlap(ptr, data, bytes);
        if (type === BLOCK_T_WRITE && c.readOnly) throw new Refusal(BLOCK_S_IOERR, `${this.at()}: write to a read-only device`);
        if (type === BLOCK_T_READ) {
          c.backend.read(sector, count, this.memory, data);
          this.stats.reads++;
          this.stats.bytesRead += bytes;
        } else {
          c.backend.write(sector, count, this.memory, data);
          this.stats.writes++;
          this.stats.bytesWritten += bytes;
        }
        return bytes;
      }
      case BLOCK_T_FLUSH:
        if (count !== 0 || data !== 0 || sector !== 0)
          throw new Refusal(BLOCK_S_INVALID, `${this.at()}: flush takes no sector, count or data (got ${sector}, ${count}, 0x${data.toString(16)})`);
        c.backend.flush();
        this.stats.flushes++;
        return 0;
      case BLOCK_T_DISCARD:
        if (data !== 0) throw new Refusal(BLOCK_S_INVALID, `${this.at()}: discard takes no data buffer (got 0x${data.toString(16)})`);
        if (count < 1) throw new Refusal(BLOCK_S_INVALID, `${this.at()}: discard of 0 sectors`);
        this.checkRange(sector, count, capacity);
        if (c.readOnly) throw new Refusal(BLOCK_S_IOERR, `${this.at()}: discard on a read-only device`);
        c.backend.discard(sector, count);
        this.stats.discards++;
        return 0;
      default:
        throw new Refusal(BLOCK_S_UNSUPP, `${this.at()}: unknown request type ${type}`);
    }
  }

  private checkRange(sector: number, count: number, capacity: number): void {
    // sector is a u64 read as a double: anything at or past capacity (including > 2^53) is refused
    if (sector >= capacity || count > capacity - sector)
      throw new Refusal(BLOCK_S_INVALID, `${this.at()}: sectors [${sector}, +${count}) are beyond the capacity of ${capacity} sectors`);
  }

  /** The data buffer may not overlap its own header (the status write would land in data) nor the ring. */
  private checkOverlap(ptr: number, data: number, bytes: number): void {
    if (data < ptr + BLOCK_REQ_SIZE && ptr < data + bytes)
      throw new Refusal(BLOCK_S_INVALID, `${this.at()}: data buffer [0x${data.toString(16)}, +${bytes}) overlaps the request header`);
    const ring = this.reg!;
    if (data < ring.address + ring.length && ring.address < data + bytes)
      throw new Refusal(
        BLOCK_S_INVALID,
        `${this.at()}: data buffer [0x${data.toString(16)}, +${bytes}) overlaps the request ring [0x${ring.address.toString(16)}, +${ring.length})`,
      );
  }
}

/** The plugin's container module: binds the vbus-block device class. */
export const blockModule = new ContainerModule((options) => {
  options.bind<DeviceClass<unknown>>(DeviceClass).toConstantValue(new BlockDeviceClass() as DeviceClass<unknown>);
});
