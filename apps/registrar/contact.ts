/**
 * Contact clean-up and the registration cache id (Whistle's registrar: the id is the md5
 * of the cleaned contact).
 *
 * Contract
 * - `cleanContact(raw)` answers the contact URI without display name, angle brackets and
 *   header parameters (`;expires=`, `;q=`, `+sip.instance`...), keeping the URI's own
 *   parameters (`;transport=udp`), or undefined when no sip:/sips: URI can be found
 *   (malformed input never throws).
 * - `registrationId(contact)` is the lower-case hex md5 of the cleaned contact.
 */
import { createHash } from 'node:crypto';

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

export function registrationId(contact: string): string {
  return createHash('md5').update(contact).digest('hex');
}
