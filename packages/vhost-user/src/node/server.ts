import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { MicrotaskScheduler, standaloneDeviceContext, type StandaloneDeviceContext } from '@vbus/core';
import { VirtioNetDeviceClass, type VirtioNetConfig, type VirtioNetDevice } from '@vbus/virtio-compat';
import { MessageReader, VhostUserError, requestName } from '../common/protocol.js';
import { VhostUserSession, type TransitionCounters, type VhostPlatform } from '../common/session.js';
import { native, POLL_READABLE, type VbusNative } from './native.js';

/** Options of a {@link VhostUserServer}. */
export interface VhostUserServerOptions {
  /** Unix socket path to listen on (a stale socket file there is replaced). */
  readonly socket: string;
  /** The virtio-net device's config (backend, mac, mtu...), as VirtioNetDeviceClass validates it. */
  readonly device?: Partial<VirtioNetConfig>;
  /** Virtio features to hide from the front end (e.g. `1n << 29n`: no EVENT_IDX). */
  readonly maskFeatures?: bigint;
  /** Log every message received (request name and size) through `log`. */
  readonly trace?: boolean;
  /** Protocol errors and connection events (default: console.error). */
  readonly log?: (line: string) => void;
}

/** The platform over the native addon: mappings, eventfds, polls. */
export function nativePlatform(n: VbusNative = native(), log: (line: string) => void = (l) => console.error(l)): VhostPlatform {
  return {
    map: (fd, length) => n.mmap(fd, length),
    close: (fd) => n.close(fd),
    signal: (fd) => void n.eventfdWrite(fd, 1),
    pending: (fd) => n.eventfdPending(fd),
    watch: (fd, onKick) => {
      n.setNonblocking(fd);
      const id = n.poll(fd, POLL_READABLE, () => {
        // an exception here would be uncaught in the event loop: the device's own errors are
        // already caught by the transport, so this is a fault of ours, logged and survived
        try {
          const count = n.eventfdRead(fd);
          if (count > 0) onKick(count);
        } catch (e) {
          log(`vhost-user: kick on fd ${fd}: ${e instanceof Error ? e.message : String(e)}`);
        }
      });
      return () => void n.pollStop(id);
    },
  };
}

/**
 * A vhost-user back end on a unix socket serving one virtio-net device: QEMU connects with
 * `-chardev socket,id=c0,path=SOCKET -netdev vhost-user,id=n0,chardev=c0 -device virtio-net-pci,netdev=n0`.
 * One front end at a time (a second connection is refused while one is served); when a front end
 * goes away, its session ends and the next one is served. A protocol violation is logged with
 * its reason and closes that connection; the server goes on.
 */
export class VhostUserServer {
  readonly device: VirtioNetDevice;
  private readonly n: VbusNative;
  private readonly listenFd: number;
  private readonly listenPoll: number;
  private current: Connection | null = null;
  private readonly log: (line: string) => void;
  private closed = false;
  /** Features hidden from the next session's front end (starts as the option's). */
  maskFeatures: bigint;
  /** Sessions served so far (closed ones included). */
  sessions = 0;
  /** Errors that closed a connection, newest last. */
  readonly errors: string[] = [];
  /** Transition counters summed over closed sessions (the live one's are in {@link transitions}). */
  private readonly past: TransitionCounters = { kicks: 0, kickWakeups: 0, calls: 0, callsSuppressed: 0, callsCoalesced: 0 };

  /** The device's context outside a bus (closed with the server). */
  private readonly context: StandaloneDeviceContext;

  constructor(private readonly options: VhostUserServerOptions) {
    this.n = native();
    this.log = options.log ?? ((l) => console.error(l));
    this.maskFeatures = options.maskFeatures ?? 0n;
    const cls = new VirtioNetDeviceClass();
    // the device's bottom halves run as macrotasks (the native polls' kicks arrive as I/O); its timers are real time
    const timers = new MicrotaskScheduler();
    this.context = standaloneDeviceContext({
      name: 'vhost-net0',
      scheduler: { now: () => timers.now(), at: (t, fn) => timers.at(t, fn), after: (d, fn) => timers.after(d, fn), schedule: (fn) => void setImmediate(fn) },
      fail: (e) => this.log(`vhost-user: device failed: ${e instanceof Error ? e.message : String(e)}`),
    });
    this.device = cls.create(cls.validate(options.device ?? {}), this.context);
    if (existsSync(options.socket) && lstatSync(options.socket).isSocket()) unlinkSync(options.socket);
    this.listenFd = this.n.listen(options.socket, 4);
    this.listenPoll = this.n.poll(this.listenFd, POLL_READABLE, () => this.accept());
  }

  /** The session being served, if a front end is connected. */
  get session(): VhostUserSession | null {
    return this.current?.session ?? null;
  }

  /** Kicks and calls so far, over every session. */
  transitions(): TransitionCounters {
    const t = { ...this.past };
    const live = this.current?.session.transitions;
    if (live) for (const k of Object.keys(t) as Array<keyof TransitionCounters>) t[k] += live[k];
    return t;
  }

  private accept(): void {
    for (;;) {
      const fd = this.n.accept(this.listenFd);
      if (fd < 0) return;
      if (this.current !== null || this.closed) {
        this.log('vhost-user: a front end is already connected; refusing another');
        this.n.close(fd);
        continue;
      }
      this.sessions++;
      try {
        const session = new VhostUserSession({ device: this.device, platform: nativePlatform(this.n, this.log), maskFeatures: this.maskFeatures });
        this.current = new Connection(this.n, fd, session, (why) => this.ended(why), this.options.trace ? this.log : undefined);
      } catch (e) {
        this.n.close(fd);
        this.log(`vhost-user: cannot start a session: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  private ended(why: string | null): void {
    const c = this.current;
    this.current = null;
    if (c) for (const k of Object.keys(this.past) as Array<keyof TransitionCounters>) this.past[k] += c.session.transitions[k];
    if (why !== null) {
      this.errors.push(why);
      this.log(`vhost-user: connection closed: ${why}`);
    }
  }

  /** Stop listening, end the session, remove the socket file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.current?.close(null);
    this.n.pollStop(this.listenPoll);
    this.n.close(this.listenFd);
    try {
      unlinkSync(this.options.socket);
    } catch {
      /* already gone */
    }
    this.context.close();
    this.device.release();
  }
}

/** One front end's connection: reads messages, hands them to the session, writes replies. */
class Connection {
  private readonly reader = new MessageReader();
  private readonly poll: number;
  private done = false;

  constructor(
    private readonly n: VbusNative,
    private readonly fd: number,
    readonly session: VhostUserSession,
    private readonly onEnd: (why: string | null) => void,
    private readonly trace: ((line: string) => void) | undefined,
  ) {
    this.poll = n.poll(fd, POLL_READABLE, () => this.readable());
  }

  private readable(): void {
    try {
      for (let i = 0; i < 64 && !this.done; i++) {
        const buf = new Uint8Array(this.reader.wanted());
        const r = this.n.recvmsg(this.fd, buf);
        if (r.bytes < 0) return;
        if (r.truncated) throw new VhostUserError(0, 'more fds than a message can carry (the kernel dropped some)');
        if (r.bytes === 0) {
          for (const fd of r.fds) this.n.close(fd);
          this.close(null);
          return;
        }
        this.reader.push(buf.subarray(0, r.bytes), r.fds);
        const m = this.reader.next();
        if (m === null) continue;
        this.trace?.(`vhost-user: ${requestName(m.header.request)} flags 0x${m.header.flags.toString(16)} size ${m.header.size} fds ${m.fds.length}`);
        const reply = this.session.handle(m.header, m.message, m.fds);
        if (reply !== null) this.send(reply);
      }
    } catch (e) {
      this.close(e instanceof Error ? e.message : String(e));
    }
  }

  private send(bytes: Uint8Array): void {
    // replies are small (at most 20 bytes) and the front end waits for them: the socket buffer has room
    const n = this.n.sendmsg(this.fd, bytes);
    if (n !== bytes.length) throw new VhostUserError(0, `reply not sent whole (${n} of ${bytes.length} bytes)`);
  }

  close(why: string | null): void {
    if (this.done) return;
    this.done = true;
    this.n.pollStop(this.poll);
    for (const fd of this.reader.pendingFds()) this.n.close(fd);
    this.session.close();
    this.n.close(this.fd);
    this.onEnd(why);
  }
}
