import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { ConfigError } from '@vbus/core';
import { NetError } from '../common/backend/net-error.js';
import { ETH_HLEN } from '../common/packet/index.js';
import { SocketBackendBase, type SocketBackendCounters } from './socket-backend-base.js';

/** A UDP endpoint. */
export interface DgramAddress {
  host?: string;
  port: number;
}

/** Options of {@link QemuDgramBackend.open}. */
export interface QemuDgramOptions {
  /** Local address to bind (default 127.0.0.1, port 0: ephemeral). */
  local?: DgramAddress;
  /**
   * The peer frames are sent to. Without one, the backend answers whoever sent it the last
   * datagram (and drops frames until someone has).
   */
  remote?: DgramAddress;
  /** Accept datagrams only from `remote` (default true when `remote` is given). */
  onlyFromRemote?: boolean;
  name?: string;
  /** Bytes waiting in the socket's send queue beyond which frames to the peer are dropped (counted in `dropsNoPeer`). Default 4 MiB. */
  maxQueuedBytes?: number;
}

/** Counters of a dgram backend. */
export interface QemuDgramCounters extends SocketBackendCounters {
  /** Datagrams shorter than an Ethernet header. */
  runts: number;
  /** Datagrams from an address other than the remote. */
  foreign: number;
  errors: number;
}

/** Events of a {@link QemuDgramBackend}. */
export interface QemuDgramEvents {
  /** A socket error; the backend keeps running where it can. */
  error: (err: NetError) => void;
}

/**
 * A QEMU-compatible datagram backend (`-netdev dgram`, `-netdev socket,udp=`): one raw Ethernet
 * frame per UDP datagram, no prefix and no virtio-net header. One NIC attaches to it.
 */
export class QemuDgramBackend extends SocketBackendBase<QemuDgramEvents, QemuDgramCounters> {
  readonly kind = 'qemu-dgram';
  readonly name: string;
  readonly counters: QemuDgramCounters = {
    framesIn: 0,
    bytesIn: 0,
    framesOut: 0,
    bytesOut: 0,
    runts: 0,
    foreign: 0,
    dropsNoNic: 0,
    dropsNoPeer: 0,
    errors: 0,
  };
  private remote: { host: string; port: number } | undefined;
  private readonly onlyFromRemote: boolean;
  private readonly maxQueued: number;

  private constructor(
    private readonly socket: Socket,
    options: QemuDgramOptions,
  ) {
    super();
    this.remote = options.remote ? { host: options.remote.host ?? '127.0.0.1', port: options.remote.port } : undefined;
    this.onlyFromRemote = options.onlyFromRemote ?? options.remote !== undefined;
    this.maxQueued = options.maxQueuedBytes ?? 4 * 1024 * 1024;
    this.name = options.name ?? `qemu-dgram ${options.local?.host ?? '127.0.0.1'}:${options.local?.port ?? 0}`;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err) => {
      this.counters.errors++;
      this.emit('error', new NetError(this.name, 'socket', undefined, err.message, { cause: err }));
    });
  }

  /** Bind the local socket and make the backend. */
  static async open(options: QemuDgramOptions = {}): Promise<QemuDgramBackend> {
    const host = options.local?.host ?? '127.0.0.1';
    const portNo = options.local?.port ?? 0;
    if (!Number.isInteger(portNo) || portNo < 0 || portNo > 65535) throw new ConfigError('local.port', portNo, 'must be an integer 0..65535');
    const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new NetError(`qemu-dgram ${host}:${portNo}`, 'socket', `${host}:${portNo}`, `cannot bind: ${err.message}`, { cause: err }));
      socket.once('error', onError);
      socket.bind(portNo, host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    return new QemuDgramBackend(socket, options);
  }

  /** The bound local address. */
  address(): { host: string; port: number } {
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  /** The peer frames go to, if known. */
  get peer(): { host: string; port: number } | undefined {
    return this.remote;
  }

  /** Close the socket; the attached port is disconnected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.port?.disconnect();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const c = this.counters;
    if (this.onlyFromRemote && this.remote && (rinfo.port !== this.remote.port || !sameHost(rinfo.address, this.remote.host))) {
      c.foreign++;
      return;
    }
    if (msg.length < ETH_HLEN) {
      c.runts++;
      return;
    }
    if (!this.onlyFromRemote) this.remote = { host: rinfo.address, port: rinfo.port };
    this.fromPeer(msg);
  }

  protected send(frame: Uint8Array): boolean {
    const r = this.remote;
    // a peer that does not read (or a slow link) must not make the host queue without bound
    if (this.closed || r === undefined || this.socket.getSendQueueSize() > this.maxQueued) {
      this.counters.dropsNoPeer++;
      return false;
    }
    // The socket keeps the buffer until sent; the frame is only valid during this call.
    this.socket.send(Buffer.from(frame), r.port, r.host);
    this.countOut(frame);
    return true;
  }
}

function sameHost(a: string, b: string): boolean {
  if (a === b) return true;
  const strip = (x: string): string => (x.startsWith('::ffff:') ? x.slice(7) : x === 'localhost' ? '127.0.0.1' : x);
  return strip(a) === strip(b);
}
