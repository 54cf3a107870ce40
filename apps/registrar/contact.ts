/**
 * Contact clean-up and the registration cache id (Whistle's registrar: the id is the md5
 * of the cleaned contact).
 *
 * Contract
 * - `cleanContact(raw)`: src/api/contact.ts (ecallmgr reads contacts the same way).
 * - `registrationId(contact)` is the lower-case hex md5 of the cleaned contact.
 */
import { createHash } from 'node:crypto';

export { cleanContact } from '../../src/api/contact.ts';

export function registrationId(contact: string): string {
  return createHash('md5').update(contact).digest('hex');
}
