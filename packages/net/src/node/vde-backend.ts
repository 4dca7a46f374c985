import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ConfigError } from '@vbus/core';
import { NetError } from '../common/backend/net-error.js';
import { encodeVdeStreamFrame, VDE_STREAM_MAX_FRAME, VdeStreamDeframer } from '../common/backend/vde-stream-framing.js';
import { ETH_HLEN } from '../common/packet/index.js';
import { newSocketBackendCounters, SocketBackendBase, type SocketBackendCounters } from './socket-backend-base.js';

/** Options of {@link VdePlugBackend.open}. */
export interface VdePlugOptions {
  /** The VDE switch to join: its control directory (`vde_switch --sock DIR`), or any `vde_plug` VNL. */
  socket: string;
  /**
   * The program that carries the stream, default `vde_plug` with `[socket]` as arguments. Give
   * e.g. `command: 'ssh', args: ['host', 'vde_plug', '/run/vde.ctl']` to reach a switch on
   * another machine, as `dpipe` users do.
   */
  command?: string;
  args?: string[];
  /** Bytes queued toward the plug beyond which frames are dropped (default 4 MiB). */
  maxQueuedBytes?: number;
  name?: string;
}

/** Counters of a {@link VdePlugBackend}. */
export interface VdePlugCounters extends SocketBackendCounters {
  /** Frames to send longer than a VDE stream carries (1521 bytes). */
  tooBig: number;
  /** Frames from the plug shorter than an Ethernet header. */
  runts: number;
  /** Length prefixes above 1521 from the plug (the stream is then abandoned). */
  badLength: number;
  /** Errors of the child process or its pipes. */
  errors: number;
}

/** Events of a {@link VdePlugBackend}. */
export interface VdePlugEvents {
  /** vde_plug failed or sent a malformed stream. */
  error: (err: NetError) => void;
  /** The plug process ended (its exit code, or -1 when killed by a signal). */
  exit: (code: number) => void;
}

/**
 * A backend that joins a VDE network (Debian's vde2: `vde_switch`) through `vde_plug` run as a
 * child process: frames go to its stdin and come from its stdout in the VDE stream framing
 * (2-byte big-endian length, then the frame), exactly what `dpipe` and ssh carry between plugs.
 * One NIC (or a switch, through `connectBackends`) attaches. The plug's output is checked like
 * any wire input: lengths are bounded before anything is read; a bad length ends the stream.
 */
export class VdePlugBackend extends SocketBackendBase<VdePlugEvents, VdePlugCounters> {
  readonly kind = 'vde';
  readonly name: string;
  readonly counters: VdePlugCounters = {
    ...newSocketBackendCounters(),
    tooBig: 0,
    runts: 0,
    badLength: 0,
    errors: 0,
  };
  /** Resolves with the plug's exit code once it has ended. */
  readonly exited: Promise<number>;
  private readonly maxQueued: number;
  private stderr = '';

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    options: VdePlugOptions,
    command: string,
  ) {
    super();
    this.name = options.name ?? `vde ${options.socket}`;
    this.maxQueued = options.maxQueuedBytes ?? 4 * 1024 * 1024;
    const deframer = new VdeStreamDeframer(
      (f) => {
        if (f.length < ETH_HLEN) this.counters.runts++;
        else this.fromPeer(f, true);
      },
      (len) => {
        this.counters.badLength++;
        this.emit('error', new NetError(this.name, 'frame-length', len, `${command} sent a frame length above ${VDE_STREAM_MAX_FRAME}; the stream is abandoned`));
      },
    );
    // the frames of one read go to the NIC as a burst, ended after the read
    child.stdout.on('data', (chunk: Buffer) => {
      try {
        deframer.push(chunk);
      } finally {
        this.endPeerBurst();
      }
    });
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    const onPipeError = (err: Error): void => {
      this.counters.errors++;
      if (!this.closed) this.emit('error', new NetError(this.name, 'socket', undefined, `pipe to ${command}: ${err.message}`, { cause: err }));
    };
    child.stdin.on('error', onPipeError);
    child.stdout.on('error', onPipeError);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        const c = code ?? -1;
        if (!this.closed) {
          this.counters.errors++;
          this.emit('error', new NetError(this.name, 'exit', c, `${command} exited${this.stderr ? `: ${this.stderr.trim()}` : ''}`));
        }
        this.emit('exit', c);
        resolve(c);
      });
    });
  }

  /**
   * Start the plug. Rejects with a NetError naming the command when it cannot be started
   * (not installed: Debian's package is vde2).
   */
  static async open(options: VdePlugOptions): Promise<VdePlugBackend> {
    if (typeof options.socket !== 'string' || options.socket === '') throw new ConfigError('socket', options.socket, 'must be the VDE switch to join (its control directory)');
    const q = options.maxQueuedBytes;
    if (q !== undefined && !(Number.isInteger(q) && q > 0)) throw new ConfigError('maxQueuedBytes', q, 'must be a positive integer');
    const command = options.command ?? 'vde_plug';
    const args = options.args ?? [options.socket];
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) =>
        reject(new NetError(`vde ${options.socket}`, 'spawn', command, `cannot start ${command} (Debian package vde2): ${err.message}`, { cause: err })),
      );
    });
    return new VdePlugBackend(child, options, command);
  }

  /** The plug's process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Stop vde_plug and disconnect the attached port. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.port?.disconnect();
    // vde_plug ends when its stdin does; the signal is for a carrier (ssh) that does not.
    this.child.stdin.end();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }

  protected send(frame: Uint8Array): boolean {
    const c = this.counters;
    if (frame.length > VDE_STREAM_MAX_FRAME) {
      c.tooBig++;
      return false;
    }
    const stdin = this.child.stdin;
    if (this.closed || !stdin.writable || stdin.writableLength > this.maxQueued) {
      c.dropsNoPeer++;
      return false;
    }
    stdin.write(encodeVdeStreamFrame(frame));
    this.countOut(frame);
    return true;
  }
}
