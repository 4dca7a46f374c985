import 'reflect-metadata';
import { inject, injectable, multiInject, optional } from 'inversify';
import { Clock, ConfigError, ConsoleLogger, Logger, RandomSource, Scheduler, checkConfigKeys, cryptoRandomSource, systemClock } from '@vbus/core';
import type { NetBackend } from './net-backend.js';

/** The services a {@link NetBackendFactory} may give the backends it makes (from the container). */
export interface NetBackendServices {
  /** The container's clock: MAC-table aging, timeouts (virtual under a virtual-time scheduler). */
  readonly clock: Clock;
  /** The container's scheduler, when one is bound: link latency, timers. */
  readonly scheduler: Scheduler | undefined;
  readonly random: RandomSource;
  readonly logger: Logger;
}

/**
 * A kind of net backend, made by name: what a plugin binds (under the {@link NetBackendFactory}
 * token, in its ContainerModule) to add a backend kind that `NetBackendRegistry.create` and
 * the tools built on it can make. `TOptions` is the kind's options object.
 */
export interface NetBackendFactory<TOptions extends object = Record<string, unknown>> {
  /** The kind's name, unique in a container (e.g. `"switch"`, `"qemu-stream"`). */
  readonly kind: string;
  /** One line for listings. */
  readonly description: string;
  /** The option keys the kind takes; the registry refuses any other (ConfigError naming it). */
  readonly optionKeys: readonly (keyof TOptions & string)[];
  /** Make a backend; check the options and throw ConfigError on a bad value. */
  create(options: TOptions, services: NetBackendServices): NetBackend | Promise<NetBackend>;
}

/** Inversify token under which plugins bind their {@link NetBackendFactory} (multi-bound). */
export const NetBackendFactory = Symbol.for('vbus-ts.NetBackendFactory');

/**
 * The backend kinds bound in a container, by name: the extension point for net backends. The
 * container makes it (`container.get(NetBackendRegistry)` after loading `netModule`, and
 * `netNodeModule` from `@vbus/net/node` for the socket kinds) from every bound
 * {@link NetBackendFactory} and the container's Clock, Scheduler, RandomSource and Logger.
 */
@injectable()
export class NetBackendRegistry {
  private readonly factories = new Map<string, NetBackendFactory<object>>();
  private readonly services: NetBackendServices;

  constructor(
    @multiInject(NetBackendFactory) @optional() factories: Iterable<NetBackendFactory<object>> = [],
    @inject(Scheduler) @optional() scheduler?: Scheduler,
    @inject(Clock) @optional() clock?: Clock,
    @inject(RandomSource) @optional() random: RandomSource = cryptoRandomSource,
    @inject(Logger) @optional() logger: Logger = new ConsoleLogger(),
  ) {
    for (const f of factories) {
      if (this.factories.has(f.kind)) throw new ConfigError('kind', f.kind, 'a net backend kind is bound twice');
      this.factories.set(f.kind, f);
    }
    this.services = Object.freeze({ clock: clock ?? scheduler ?? systemClock, scheduler, random, logger });
  }

  /** The kinds that can be made, with their descriptions and option keys. */
  kinds(): Array<{ kind: string; description: string; optionKeys: readonly string[] }> {
    return [...this.factories.values()].map(({ kind, description, optionKeys }) => ({ kind, description, optionKeys }));
  }

  /** Whether a factory for `kind` is bound. */
  has(kind: string): boolean {
    return this.factories.has(kind);
  }

  /**
   * Make a backend of `kind` with `options`. An unknown kind, an unknown option key or a bad
   * value is a ConfigError naming it.
   */
  async create(kind: string, options: object = {}): Promise<NetBackend> {
    const f = this.factories.get(kind);
    if (!f) throw new ConfigError('kind', kind, `no net backend kind of that name is bound (known: ${[...this.factories.keys()].join(', ') || 'none'})`);
    if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ConfigError(kind, options, 'options must be an object');
    checkConfigKeys(options, f.optionKeys, `net backend kind "${kind}"`);
    return await f.create(options, this.services);
  }
}
