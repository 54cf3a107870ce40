/**
 * Bus URL parsing (FIFE_BUS_URL) and redaction for logs.
 *
 * - `embedded` (or empty) selects the in-process broker.
 * - `amqp://user:pass@host:5672/vhost` or `amqps://...`; several separated by commas are
 *   tried in turn. Anything else throws an Error that says what is accepted.
 * - `redactUrl(url)` drops the userinfo so a password never reaches a log line.
 */

export type BusUrl =
  { readonly kind: 'embedded' } | { readonly kind: 'amqp'; readonly urls: readonly string[] };

export function parseBusUrl(raw: string | undefined): BusUrl {
  const text = (raw ?? '').trim();
  if (text === '' || text === 'embedded') return { kind: 'embedded' };
  const urls = text
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new Error(
        `bus URL '${redactUrl(u)}' is not a URL: use 'embedded' or amqp://user:pass@host:5672[/vhost] (comma-separated for several brokers)`,
      );
    }
    if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
      throw new Error(
        `bus URL '${redactUrl(u)}' has scheme ${parsed.protocol}: use 'embedded' or amqp:// / amqps://`,
      );
    }
  }
  if (urls.length === 0) throw new Error(`bus URL '${redactUrl(text)}' lists no broker`);
  return { kind: 'amqp', urls };
}

export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1');
}
