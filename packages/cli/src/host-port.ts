// HOST:PORT options of the CLI (--listen, --connect, --vxlan-local), parsed in one place.

/** Parse "HOST:PORT" (IPv6 in brackets) into its parts; throws a message naming the option. */
export function parseHostPort(option: string, text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`${option} must be HOST:PORT (e.g. 127.0.0.1:10000), got "${text}"`);
  return { host: m[1] ?? m[2]!, port };
}
