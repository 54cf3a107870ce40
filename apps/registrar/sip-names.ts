/**
 * What a realm and a username may be, checked before they are stored (provisioning.ts).
 * They end up in SIP URIs, digest challenges and routing keys, so they follow RFC 3261's
 * grammar (section 25.1).
 *
 * Contract
 * - `realmProblem(realm)`: undefined for a SIP domain name (RFC 3261 `hostname`, without
 *   the trailing dot: labels of letters, digits and inner hyphens, separated by dots, the
 *   last one starting with a letter, so an IP address is not a realm), at most
 *   REALM_MAX_CHARS characters and LABEL_MAX_CHARS per label (DNS's limits, RFC 1035);
 *   otherwise why not, in words.
 * - `usernameProblem(user)`: undefined for an RFC 3261 `user` (1 or more of unreserved
 *   `A-Za-z0-9-_.!~*'()`, user-unreserved `&=+$,;?/`, escaped `%XX`) of at most
 *   USERNAME_MAX_CHARS characters; otherwise why not.
 * - The caller trims and lower-cases first; the answers quote at most 40 characters of
 *   the value.
 */

export const REALM_MAX_CHARS = 253;
export const LABEL_MAX_CHARS = 63;
export const USERNAME_MAX_CHARS = 128;

const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i;
const TOP_LABEL = /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/i;
const USER_CHAR = /[a-z0-9\-_.!~*'()&=+$,;?/]/i;

const quote = (v: string): string => JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);

export function realmProblem(realm: string): string | undefined {
  if (realm === '') return 'it is empty';
  if (realm.length > REALM_MAX_CHARS) return `it has ${realm.length} characters (at most ${REALM_MAX_CHARS})`;
  const labels = realm.split('.');
  for (const [i, label] of labels.entries()) {
    if (label === '')
      return `${quote(realm)} has an empty label (a dot at the start, the end, or two in a row)`;
    if (label.length > LABEL_MAX_CHARS)
      return `its label ${quote(label)} has ${label.length} characters (at most ${LABEL_MAX_CHARS})`;
    if (!LABEL.test(label))
      return `${quote(realm)} is not a SIP domain: label ${quote(label)} may hold only letters, digits and inner hyphens`;
    if (i === labels.length - 1 && !TOP_LABEL.test(label))
      return `${quote(realm)} is not a SIP domain: its last label ${quote(label)} must start with a letter (an IP address is not a realm)`;
  }
  return undefined;
}

export function usernameProblem(user: string): string | undefined {
  if (user === '') return 'it is empty';
  if (user.length > USERNAME_MAX_CHARS)
    return `it has ${user.length} characters (at most ${USERNAME_MAX_CHARS})`;
  for (let i = 0; i < user.length; i++) {
    const c = user[i]!;
    if (c === '%') {
      if (!/^[0-9a-f]{2}$/i.test(user.slice(i + 1, i + 3)))
        return `${quote(user)} has a '%' not followed by two hex digits`;
      i += 2;
    } else if (!USER_CHAR.test(c)) {
      return `${quote(user)} holds ${quote(c)}, which a SIP user part cannot (letters, digits, -_.!~*'()&=+$,;?/ and %XX escapes only)`;
    }
  }
  return undefined;
}
