/**
 * The parts of a reg_success every reader must read alike: the registrar that stores it
 * and ecallmgr, which keeps the contacts it hears for its bridges (apps/ecallmgr/
 * reg-lookup.ts). Whistle's registrar cleans the Contact the same way.
 *
 * Contract
 * - `cleanContact(raw)` answers the contact URI without display name, angle brackets and
 *   header parameters (`;expires=`, `;q=`, `+sip.instance`...), keeping the URI's own
 *   parameters (`;transport=udp`), or undefined when no sip:/sips: URI can be found
 *   (malformed input never throws).
 * - `regExpires(v)` reads Expires (a whole number of seconds >= 0, as a number or a
 *   string of digits), else undefined.
 * - `isUnregister(msg)`: Expires 0 or Status `Unregistered` (the device left).
 */
const HEADER_PARAMS = new Set(['expires', 'q', 'reg-id', '+sip.instance', 'methods', 'received']);

export function cleanContact(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  let s = raw.trim();
  const lt = s.indexOf('<');
  if (lt >= 0) {
    const gt = s.indexOf('>', lt + 1);
    if (gt < 0) return undefined;
    s = s.slice(lt + 1, gt).trim();
  } else {
    s = s
      .split(';')
      .filter((part, i) => i === 0 || !HEADER_PARAMS.has(part.split('=')[0]!.trim().toLowerCase()))
      .join(';');
  }
  s = s.replace(/^"+|"+$/g, '');
  const m = /^(sips?):([^\s<>"]+)$/i.exec(s);
  if (m === null || (!m[2]!.includes('@') && !/^[\w.-]+(:\d+)?/.test(m[2]!))) return undefined;
  return `${m[1]!.toLowerCase()}:${m[2]}`;
}

export function regExpires(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

export function isUnregister(msg: Record<string, unknown>, expires: number): boolean {
  return expires === 0 || msg.Status === 'Unregistered';
}
