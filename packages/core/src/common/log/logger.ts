/** Structured context of a log record: plain values (device, connection, queue, counts). */
export type LogFields = Readonly<Record<string, unknown>>;

/** Severity of a log record, lowest first; `'silent'` as a threshold writes nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Where vbus-ts reports what it does not throw: a listener that threw, a guest that broke the
 * protocol and was disconnected, a device that failed. A replaceable service, bound in the
 * container under {@link Logger}; an embedder rebinds it to route records into its own logging
 * (pino, its simulator's log) or to silence them. Messages are one line without the fields;
 * the fields carry the facts (device, connection, queue) as values, never only in the text.
 */
export interface Logger {
  /** Detail for whoever is diagnosing: per-message refusals, state changes. */
  debug(message: string, fields?: LogFields): void;
  /** Routine events worth a line: a guest exited, a device failed by a guest. */
  info(message: string, fields?: LogFields): void;
  /** Something went wrong that the framework recovered from: a guest worker crashed. */
  warn(message: string, fields?: LogFields): void;
  /** Something went wrong that the framework could not recover from. */
  error(message: string, fields?: LogFields): void;
}

/** Inversify token for the {@link Logger}. */
export const Logger = Symbol.for('vbus-ts.Logger');

const RANK: Record<LogLevel | 'silent', number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/** The console methods a {@link ConsoleLogger} writes through (the global `console` by default). */
export type ConsoleLike = Pick<Console, 'debug' | 'info' | 'warn' | 'error'>;

/**
 * The default logger: records at or above `level` (default `'warn'`) go to the console as
 * `"[vbus] message"` followed by the fields object, if any; records below are dropped without
 * formatting anything.
 */
export class ConsoleLogger implements Logger {
  /** The lowest level written. */
  readonly level: LogLevel | 'silent';
  private readonly rank: number;
  private readonly out: ConsoleLike;

  constructor(options: { level?: LogLevel | 'silent'; console?: ConsoleLike } = {}) {
    this.level = options.level ?? 'warn';
    this.rank = RANK[this.level];
    this.out = options.console ?? console;
  }

  /** Log at `debug` if the level is enabled. */
  debug(message: string, fields?: LogFields): void {
    if (this.rank <= 0) this.write('debug', message, fields);
  }
  /** Log at `info` if the level is enabled. */
  info(message: string, fields?: LogFields): void {
    if (this.rank <= 1) this.write('info', message, fields);
  }
  /** Log at `warn` if the level is enabled. */
  warn(message: string, fields?: LogFields): void {
    if (this.rank <= 2) this.write('warn', message, fields);
  }
  /** Log at `error` if the level is enabled. */
  error(message: string, fields?: LogFields): void {
    if (this.rank <= 3) this.write('error', message, fields);
  }

  private write(level: LogLevel, message: string, fields: LogFields | undefined): void {
    if (fields === undefined) this.out[level](`[vbus] ${message}`);
    else this.out[level](`[vbus] ${message}`, fields);
  }
}

/** A logger that writes nothing (tests, embedders that count instead of log). */
export const silentLogger: Logger = Object.freeze({
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
});
